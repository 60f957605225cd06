"""The KServe venv of the target tests (build/kserve-venv): kserve pins protobuf < 7 and psutil < 6, which clash with
this project's environment, so its model server runs from a venv of its own, made from requirements-kserve.txt
(by `make setup-dev`, or here on first use; pip's cache serves the wheels after the first time)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from servers.probe import PROJECT_ROOT

REQUIREMENTS = Path(__file__).with_name("requirements-kserve.txt")
VENV = PROJECT_ROOT / "build" / "kserve-venv"
STAMP = VENV / ".requirements-sha256"


def kserve_python() -> Path:
    """The KServe venv's Python, the venv made or remade when requirements-kserve.txt changed."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = VENV / "bin" / "python"
    if not (python.is_file() and STAMP.is_file() and STAMP.read_text() == digest):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
        STAMP.write_text(digest)
    return python


if __name__ == "__main__":
    print(kserve_python())
