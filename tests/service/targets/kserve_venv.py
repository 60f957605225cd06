"""The KServe venvs of the target tests: kserve pins protobuf < 7 and psutil < 6, which clash with this project's
environment, so its model server runs from a venv of its own, made from requirements-kserve.txt (build/kserve-venv),
and with ONNX Runtime for the export's oip test from requirements-kserve-onnx.txt (build/kserve-onnx-venv)."""

from __future__ import annotations

from pathlib import Path

from tests.support.tool_venv import tool_python

REQUIREMENTS = Path(__file__).with_name("requirements-kserve.txt")
REQUIREMENTS_ONNX = Path(__file__).with_name("requirements-kserve-onnx.txt")


def kserve_python() -> Path:
    """The KServe venv's Python, the venv made or remade when requirements-kserve.txt changed."""
    return tool_python(REQUIREMENTS, "kserve-venv")


def kserve_onnx_python() -> Path:
    """The Python of the KServe venv with ONNX Runtime, made or remade when its requirements changed."""
    return tool_python(REQUIREMENTS_ONNX, "kserve-onnx-venv")


if __name__ == "__main__":
    print(kserve_python())
    print(kserve_onnx_python())
