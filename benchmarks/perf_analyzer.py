"""Triton's perf_analyzer, found or fetched, and its CSV report read back.

pip `perf-analyzer` (2.60) ships a binary built for glibc 2.38 and GCC 13's libstdc++; Debian 12 (this project's
machines and images) has glibc 2.36, so it cannot run here. The same program, release 2.50 (Triton 24.09), is
in the tritonclient 2.50.0 wheel, built for glibc 2.35: it runs with Debian's libb64 (apt `libb64-0d`, see
scripts/install-system-deps.sh bench) and the CUDA runtime library of the `nvidia-cuda-runtime-cu12` wheel (it
links it even on a CPU machine). Both wheels are fetched with pip into build/perf-analyzer, once.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "build" / "perf-analyzer"
TRITONCLIENT_VERSION = "2.50.0"  # the last wheel with perf_analyzer that runs on Debian 12's glibc
WHEELS = (f"tritonclient=={TRITONCLIENT_VERSION}", "nvidia-cuda-runtime-cu12==12.9.79")


def perf_analyzer() -> tuple[Path, dict[str, str]]:
    """The perf_analyzer binary and the environment it runs in: pip perf-analyzer's when it runs on this machine,
    else the tritonclient wheel's (fetched once)."""
    found = shutil.which("perf_analyzer")
    if found and subprocess.run([found, "--version"], capture_output=True, check=False).returncode == 0:
        return Path(found), dict(os.environ)
    binary = HOME / "tritonclient" / f"tritonclient-{TRITONCLIENT_VERSION}.data" / "data" / "bin" / "perf_analyzer"
    cuda = HOME / "cudart" / "nvidia" / "cuda_runtime" / "lib"
    if not binary.is_file() or not cuda.is_dir():
        wheels = HOME / "wheels"
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), *WHEELS]
        subprocess.run(command, check=True)
        for wheel in wheels.glob("*.whl"):
            target = HOME / ("tritonclient" if wheel.name.startswith("tritonclient") else "cudart")
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)
        binary.chmod(0o755)
    library_path = os.pathsep.join(filter(None, [str(cuda), os.environ.get("LD_LIBRARY_PATH")]))
    return binary, {**os.environ, "LD_LIBRARY_PATH": library_path}


def run(arguments: list[str], report: Path) -> list[dict[str, str]]:
    """Run perf_analyzer with `arguments`, its CSV report in `report`; print its output; return the CSV rows."""
    binary, env = perf_analyzer()
    result = subprocess.run([str(binary), *arguments, "-f", str(report)], env=env, text=True, capture_output=True)
    print(result.stdout, result.stderr, sep="\n", flush=True)
    if result.returncode != 0:
        raise RuntimeError(f"perf_analyzer failed with {result.returncode}")
    with report.open() as rows:
        return list(csv.DictReader(rows))
