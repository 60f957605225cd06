"""The checkov venv of the Kubernetes tests (build/checkov-venv): checkov's pins clash with this project's
environment, so the scanner runs from a venv of its own, made from requirements-checkov.txt."""

from __future__ import annotations

from pathlib import Path

from tests.support.tool_venv import tool_python

REQUIREMENTS = Path(__file__).with_name("requirements-checkov.txt")


def checkov_python() -> Path:
    """The checkov venv's Python, the venv made or remade when requirements-checkov.txt changed."""
    return tool_python(REQUIREMENTS, "checkov-venv")


if __name__ == "__main__":
    print(checkov_python())
