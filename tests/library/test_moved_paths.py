"""Every module path that moved still imports for one release: the old path is the moved module itself, and its
first import warns the importer (a DeprecationWarning naming the new path) once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from antialiased._moved import MOVED

ROOT = Path(__file__).resolve().parents[2]
# In a fresh interpreter: imports each old path twice; per path, whether it is the new module and what was warned.
PROGRAM = """
import importlib, json, sys, warnings
from antialiased._moved import MOVED
found = {}
for old, new in MOVED.items():
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


def test_every_old_path_is_a_file_of_its_own() -> None:
    missing = [old for old in MOVED if not (ROOT / Path(*old.split("."))).with_suffix(".py").is_file()]
    assert missing == []


def test_every_old_path_is_the_moved_module_and_warns_its_importer_once() -> None:
    run = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, check=True)
    expected = {
        old: {"same": True, "warnings": [["DeprecationWarning", f"{old} moved to {new}", "<string>"]]}
        for old, new in MOVED.items()
    }
    assert json.loads(run.stdout) == expected
