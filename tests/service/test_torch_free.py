"""The probe service imports no torch, torchvision or TorchServe: its process imports them nowhere, even while it
builds every kind of probe target."""

from __future__ import annotations

import json
import subprocess
import sys

from servers.probe import PROJECT_ROOT

BLOCKED = ("torch", "torchvision", "ts")
PROGRAM = """
import importlib.abc, os, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is blocked: the probe service must not import it")

sys.meta_path.insert(0, Block())
os.environ["PROBE_TARGETS"] = {targets!r}
from fastapi.testclient import TestClient
from service.app import create_app

with TestClient(create_app()) as client:
    assert set(client.app.state.targets) == {{"resnet50_lpf4", "resnet50", "k", "t"}}
    assert client.get("/v2").status_code == 200
print("torch-free")
"""


def test_the_service_and_its_targets_import_without_torch() -> None:
    targets = json.dumps([
        {"name": "k", "protocol": "oip", "url": "http://127.0.0.1:9"},
        {"name": "t", "protocol": "torchserve", "url": "http://127.0.0.1:9"},
    ])  # fmt: skip
    program = PROGRAM.format(blocked=set(BLOCKED), targets=targets)
    result = subprocess.run([sys.executable, "-c", program], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "torch-free"
