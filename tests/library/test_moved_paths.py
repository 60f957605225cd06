"""Every module path that moved still imports for one release: the old path is the moved module itself, and its
first import warns the importer (a DeprecationWarning naming the new path) once."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("antialiased", "handlers", "service", "archives", "launcher", "scripts")
# In a fresh interpreter: imports each old path twice; per path, whether it is the new module and what was warned.
PROGRAM = """
import importlib, json, sys, warnings
found = {}
for old, new in json.loads(sys.argv[1]).items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(f"import {old}")
        exec(f"import {old}")
    found[old] = {
        "same": importlib.import_module(old) is importlib.import_module(new),
        "warnings": [[w.category.__name__, str(w.message).split(";")[0], w.filename] for w in caught],
    }
print(json.dumps(found))
"""


def moved_paths() -> dict[str, str]:
    """Old module path -> new, from every file that calls `moved(__name__, "<new>")`."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "moved":
                    old = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                    found[old] = node.args[1].value
    return found


MOVED = moved_paths()


def test_the_moves_are_found() -> None:
    assert MOVED["antialiased.contract"] == "antialiased.serving.contract"
    assert MOVED["antialiased.evaluate.data"] == "antialiased.datasets.folders"
    assert len(MOVED) >= 14


def test_every_old_path_is_the_moved_module_and_warns_its_importer_once() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(MOVED)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    expected = {
        old: {"same": True, "warnings": [["DeprecationWarning", f"{old} moved to {new}", "<string>"]]}
        for old, new in MOVED.items()
    }
    assert json.loads(run.stdout) == expected
