"""The import graph of the project's packages: each layer imports only the layers below it (the model library first,
the launcher and scripts last), no module takes part in an import circle, and inside each package no file or
subpackage imports one that imports it back (no arrow running back up between the rooms of a folder).

A package's `__main__` module is a program (`python -m PACKAGE`) that nothing imports: it may import what its own layer
may import, and also the layers above its layer within `antialiased/` (those that may import it, directly or through
others), so that `python -m antialiased.sequences make` can run the data set code that writes sequences; it stands
outside its folder's rooms, and no module may import a `__main__`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY, SERVING, DATASETS = "antialiased", "antialiased.serving", "antialiased.datasets"
EVALUATE, FINETUNE = "antialiased.evaluate", "antialiased.finetune"
# Layer -> the layers it may import (besides itself); a module's layer is the longest one its name starts with.
# The model library imports nothing of the serving glue; the running service never imports the launcher.
ALLOWED = {
    LIBRARY: set(),
    SERVING: {LIBRARY},
    DATASETS: {LIBRARY},
    EVALUATE: {LIBRARY, DATASETS, SERVING},
    FINETUNE: {LIBRARY, DATASETS, EVALUATE},
    "handlers": {LIBRARY, SERVING},
    "service": {LIBRARY, SERVING},
    "archives": {LIBRARY, SERVING, "handlers"},
    "launcher": {LIBRARY, SERVING, "archives"},
    "scripts": {LIBRARY, SERVING, "archives", "launcher", "benchmarks"},
}
PACKAGES = {layer for layer in ALLOWED if "." not in layer}
PROJECT = {*PACKAGES, "benchmarks", "tests", "docker"}


def is_program(module: str) -> bool:
    """Whether `module` is a package's `__main__` (run by `python -m`, imported by nothing)."""
    return module.rsplit(".", 1)[-1] == "__main__"


def _above(layer: str) -> set[str]:
    """The layers within the model library that may import `layer`, directly or through others."""
    found: set[str] = set()
    while True:
        more = {x for x in ALLOWED if x.startswith(f"{LIBRARY}.") and ALLOWED[x] & ({layer} | found)} - found
        if not more:
            return found - {layer}
        found |= more


def may_import(module: str) -> set[str]:
    """The layers `module` may import: its own and those its layer may; a program, also those above it in the
    model library (the module docstring)."""
    layer = layer_of(module)
    allowed = ALLOWED[layer] | {layer}
    if is_program(module) and (layer == LIBRARY or layer.startswith(f"{LIBRARY}.")):
        allowed |= _above(layer)
    return allowed


def layer_of(module: str) -> str:
    """The layer of `module` (a layer name, or the top package for modules outside every layer)."""
    layers = [layer for layer in ALLOWED if module == layer or module.startswith(f"{layer}.")]
    return max(layers, key=len) if layers else module.split(".")[0]


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The project modules (or packages) `path` imports, anywhere in it (functions and TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in PROJECT}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if layer_of(target) not in may_import(module)
    )
    assert wrong == []


def test_a_program_may_import_the_layers_above_it_in_the_library_only() -> None:
    """The rule for `__main__` modules, on names (the graph above holds it for the real ones)."""
    assert {DATASETS, EVALUATE, FINETUNE, SERVING} <= may_import("antialiased.sequences.__main__")
    assert DATASETS not in may_import("antialiased.sequences.video"), "only a program reaches up"
    assert may_import("antialiased.evaluate.__main__") == {LIBRARY, DATASETS, SERVING, EVALUATE, FINETUNE}
    assert "service" not in may_import("antialiased.sequences.__main__"), "never out of the library"
    assert may_import("service.__main__") == ALLOWED["service"] | {"service"}, "outside the library: its layer's"
    assert "antialiased.sequences.__main__" in GRAPH and "antialiased.datasets" in {
        layer_of(t) for t in GRAPH["antialiased.sequences.__main__"]
    }


def test_no_module_imports_a_program() -> None:
    """A `__main__` may reach up only because nothing imports it: its imports run in no other module's."""
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items() for target in targets
                   if is_program(target))  # fmt: skip
    assert wrong == []


def test_the_model_library_imports_nothing_of_the_serving_glue() -> None:
    """Named apart from the layers above so that its failure says so: only what serves imports antialiased.serving."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if layer_of(module) == LIBRARY
        for target in targets
        if layer_of(target) == SERVING
    )
    assert wrong == []


def test_no_module_takes_part_in_an_import_circle() -> None:
    assert _circles(GRAPH) == []


def _rooms(package: str) -> dict[str, set[str]]:
    """The graph between the rooms of `package`: its own modules and its subpackages, each subpackage taken whole."""

    def room(module: str) -> str | None:
        if not module.startswith(f"{package}."):
            return None
        return f"{package}.{module[len(package) + 1 :].split('.')[0]}"

    rooms: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        if is_program(module):
            continue  # a program stands on top of its folder, not in one of its rooms
        if (source := room(module)) is not None:
            rooms.setdefault(source, set()).update(room(target) for target in targets)
    return {source: targets - {source, None} for source, targets in rooms.items()}


def _circles(graph: dict[str, set[str]]) -> list[str]:
    circles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            circles.append(" -> ".join([*path[path.index(node) :], node]))
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            visit(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return circles


def test_no_room_of_a_folder_imports_one_that_imports_it_back() -> None:
    """In every package folder (service/, service/targets/, antialiased/ ...), its files and subfolders form no
    circle: e.g. service/settings.py imports nothing that imports it, through any module of a subfolder."""
    folders = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert {"service", "service.routers", "antialiased", "antialiased.serving"} <= folders
    circles = {folder: found for folder in sorted(folders) if (found := _circles(_rooms(folder)))}
    assert circles == {}


def test_no_router_imports_another() -> None:
    """What routers share lives below them (dependencies, params, schemas ...), never in one of them."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith("service.routers.")
        for target in targets
        if target.startswith("service.routers.")
    )
    assert wrong == []


def test_no_test_module_imports_a_conftest_or_another_test_module() -> None:
    """What tests share lives in tests/support/; fixtures only in conftests, found by pytest, never imported."""
    wrong = []
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests."):
                last = node.module.rsplit(".", 1)[-1]
                if last == "conftest" or last.startswith("test_"):
                    wrong.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert wrong == []
