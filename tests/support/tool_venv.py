"""Venvs of their own for test tools whose pins clash with this project's environment (KServe's model server,
the checkov policy scanner): each made under build/ from a requirements file of pinned packages, and remade when
that file changes (by `make setup-dev`, or on first use; pip's cache serves the wheels after the first time)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from launcher.probe_service import PROJECT_ROOT


def requirements_digest(requirements: Path) -> str:
    """sha256 of a requirements file followed by the digests of those it includes (`-r FILE`), so that a change in
    either remakes the venv; a file that includes none has the digest of its bytes."""
    data = requirements.read_bytes()
    for line in data.decode().splitlines():
        if line.startswith("-r "):
            data += requirements_digest(requirements.parent / line.removeprefix("-r ").strip()).encode()
    return hashlib.sha256(data).hexdigest()


def tool_python(requirements: Path, name: str) -> Path:
    """The Python of venv build/`name` made from `requirements`, made or remade when the requirements changed."""
    venv = PROJECT_ROOT / "build" / name
    stamp = venv / ".requirements-sha256"
    digest = requirements_digest(requirements)
    python = venv / "bin" / "python"
    if not (python.is_file() and stamp.is_file() and stamp.read_text() == digest):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        stamp.write_text(digest)
    return python
