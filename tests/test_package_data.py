"""The installable package (pyproject.toml): a wheel built from the tracked files holds every file of its packages,
not only the Python modules: the page and its samples, the label lists, the archive and launcher templates."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _packages() -> list[str]:
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    return [pattern.rstrip("*") for pattern in found["include"]]


def test_the_wheel_holds_every_tracked_file_of_the_packages(tmp_path: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    source = tmp_path / "source"  # a copy: building in place would write build/ and egg-info into the work tree
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "dist", "."]
    subprocess.run(command, cwd=source, check=True, capture_output=True)
    (wheel,) = (source / "dist").glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    packages = tuple(f"{package}/" for package in _packages())
    missing = sorted(name for name in tracked if name.startswith(packages) and name not in shipped)
    assert not missing, f"pyproject.toml's package data leaves out {missing}"
