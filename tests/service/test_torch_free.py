"""The probe service imports no torch, torchvision or TorchServe: with them made unimportable, the library's
torch-free part (antialiased.TORCH_FREE_MODULES) imports, and the app builds and runs with every kind of probe target
(what the slim probe container runs), importing nothing else of the library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from antialiased import TORCH_FREE_MODULES
from launcher.probe_service import PROJECT_ROOT

BLOCKED = ("torch", "torchvision", "ts")
PROGRAM = """
import importlib, importlib.abc, os, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is blocked: the probe service must not import it")

sys.meta_path.insert(0, Block())
for module in {torch_free!r}:
    importlib.import_module(f"antialiased.{{module}}")
import antialiased
try:
    antialiased.create_model
except ImportError:
    print("torch parts blocked")
os.environ["PROBE_TARGETS"] = {targets!r}
from fastapi.testclient import TestClient
from service.app import create_app

with TestClient(create_app()) as client:
    assert set(client.app.state.targets) == {{"resnet50_lpf4", "resnet50", "k", "t"}}
    assert client.get("/v2").status_code == 200
    assert {{"/v1/stability", "/v1/sequence"}} <= set(client.get("/openapi.json").json()["paths"])
print("torch-free")
print(sorted(name for name in sys.modules if name.startswith("antialiased.")))
"""


def test_the_service_and_its_targets_import_without_torch() -> None:
    targets = json.dumps([
        {"name": "k", "kind": "oip", "url": "http://127.0.0.1:9"},
        {"name": "t", "kind": "torchserve", "url": "http://127.0.0.1:9"},
    ])  # fmt: skip
    program = PROGRAM.format(blocked=set(BLOCKED), torch_free=TORCH_FREE_MODULES, targets=targets)
    result = subprocess.run([sys.executable, "-c", program], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    *lines, imported = result.stdout.splitlines()
    assert lines == ["torch parts blocked", "torch-free"], result.stdout
    used = {name.removeprefix("antialiased.") for name in ast.literal_eval(imported) if "._" not in name}
    assert used - set(TORCH_FREE_MODULES) == set(), "the service imports library modules missing from the list"


def test_the_list_holds_every_module_of_the_serving_glue() -> None:
    """The docs say `serving/` (all of it) is torch-free."""
    modules = {f"serving.{path.stem}" for path in (PROJECT_ROOT / "antialiased" / "serving").glob("[!_]*.py")}
    assert modules <= set(TORCH_FREE_MODULES) and "serving" in TORCH_FREE_MODULES
