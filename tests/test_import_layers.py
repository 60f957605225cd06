"""The import graph of the project's packages: each layer imports only the layers below it (the library first, the
launcher and scripts last), and no module takes part in an import circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Package -> the project packages it may import (besides itself). The running service never imports the launcher.
ALLOWED = {
    "antialiased": set(),
    "handlers": {"antialiased"},
    "service": {"antialiased"},
    "archives": {"antialiased", "handlers"},
    "launcher": {"antialiased", "archives"},
    "scripts": {"antialiased", "archives", "launcher", "benchmarks"},
}
PROJECT = {*ALLOWED, "benchmarks", "tests", "docker"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in ALLOWED:
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
        if target.split(".")[0] not in ALLOWED[module.split(".")[0]] | {module.split(".")[0]}
    )
    assert wrong == []


def test_no_module_takes_part_in_an_import_circle() -> None:
    circles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circles.append(" -> ".join([*path[path.index(module) :], module]))
            return
        if module in done:
            return
        for target in sorted(GRAPH.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])
    assert circles == []


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
