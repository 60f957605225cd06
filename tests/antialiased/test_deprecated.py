"""Every module path that moved still imports for one release: the old path is the moved module itself, and its
first import warns the importer (a DeprecationWarning naming the new path) once."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from antialiased.errors import ApiError

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


def test_the_project_itself_imports_no_old_path() -> None:
    """Only users outside the project (and the other branches until they merge) may still use the old paths."""
    wrong = []
    for folder in (*PACKAGES, "benchmarks", "tests", "docker"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                wrong += [f"{path.relative_to(ROOT)} imports {name}" for name in names if name in MOVED]
    assert wrong == []


def test_every_old_path_is_the_moved_module_and_warns_its_importer_once() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(MOVED)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    expected = {
        old: {"same": True, "warnings": [["DeprecationWarning", f"{old} moved to {new}", "<string>"]]}
        for old, new in MOVED.items()
    }
    assert json.loads(run.stdout) == expected


def test_the_old_names_of_the_count_of_views_still_work_and_warn() -> None:
    """`max_offsets` was `max_shifts` (and MAX_OFFSETS_PER_REQUEST was MAX_SHIFTS_PER_REQUEST): the old names are still
    taken for one release, each with a DeprecationWarning; both at once is an error."""
    import antialiased.shifts
    from antialiased.protocols import ProbeSpec, make_plan
    from antialiased.shifts import ShiftRequest

    with pytest.warns(DeprecationWarning, match="MAX_OFFSETS_PER_REQUEST"):
        assert antialiased.shifts.MAX_SHIFTS_PER_REQUEST == antialiased.shifts.MAX_OFFSETS_PER_REQUEST
    spec = ProbeSpec(protocol="diagonal", max_shift=3)
    with pytest.warns(DeprecationWarning, match=r"make_plan\(max_shifts=...\) is now max_offsets"):
        assert make_plan(spec, max_shifts=4).request.max_offsets == 4
    with pytest.raises(ApiError, match="exceed the limit of 3"), pytest.warns(DeprecationWarning):
        make_plan(spec, max_shifts=3)
    with pytest.warns(DeprecationWarning, match="from_json"):
        assert ShiftRequest.from_json({"offsets": [[0, 0]]}, max_shifts=2).max_offsets == 2
    with pytest.warns(DeprecationWarning, match="__init__"):
        assert ShiftRequest(offsets=((0, 0),), max_shifts=2).max_offsets == 2
    with pytest.raises(TypeError, match="both 'max_shifts' \\(deprecated\\) and 'max_offsets'"):
        make_plan(spec, max_offsets=4, max_shifts=4)
    with pytest.raises(AttributeError, match="NOTHING"):
        antialiased.shifts.NOTHING  # noqa: B018
