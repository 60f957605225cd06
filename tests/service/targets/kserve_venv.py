"""The KServe venv of the target tests (build/kserve-venv): kserve pins protobuf < 7 and psutil < 6, which clash with
this project's environment, so its model server runs from a venv of its own, made from requirements-kserve.txt."""

from __future__ import annotations

from pathlib import Path

from tests.support.tool_venv import tool_python

REQUIREMENTS = Path(__file__).with_name("requirements-kserve.txt")


def kserve_python() -> Path:
    """The KServe venv's Python, the venv made or remade when requirements-kserve.txt changed."""
    return tool_python(REQUIREMENTS, "kserve-venv")


if __name__ == "__main__":
    print(kserve_python())
