"""The probe service and the library's torch-free part import, and the app builds, with torch, torchvision and
TorchServe made unimportable: what the slim probe container runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("torch", "torchvision", "ts")
TORCH_FREE = ("errors", "contract", "imagefile", "labels", "preprocessing", "shifts", "protocols", "metrics")
CODE = f"""
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(f"{{name}} is blocked")

sys.meta_path.insert(0, Blocker())
import importlib
for name in {TORCH_FREE!r}:
    importlib.import_module(f"antialiased.{{name}}")
import antialiased
from service.app import create_app
from service.settings import Settings
app = create_app(Settings())
assert "/v1/stability" in app.openapi()["paths"]
try:
    antialiased.create_model
except ImportError:
    print("torch parts blocked")
print(sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}))
"""


def test_the_service_imports_and_builds_without_torch() -> None:
    result = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["torch parts blocked", "[]"], result.stdout
