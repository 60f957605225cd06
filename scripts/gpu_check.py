"""`make gpu-check`: everything GPU-specific in one run, written to one JSON file and one Markdown table.

Sections, each a child process with its own time limit, so that a failure or a hang costs only its own
figures (results are written after every section):
- model: bench_model on CUDA at batch 256 in bfloat16: torchvision prepared, ours prepared, ours + compile;
- tests: the tests marked `gpu`, with the figures they record (pytest's record_property);
- serve: bench_serve on CUDA, JPEG payloads at high concurrency, a sweep of workers x batch size;
- export: bench_runtimes on CUDA at batch 64: the exported model on ONNX Runtime's CUDA and TensorRT providers (where
  this onnxruntime has them) and compiled by AOTInductor, against ours prepared in bfloat16: time and parity;
- train: bench_train on CUDA, resnet50 at batch 32 in bfloat16: the fine-tuning loop against a bare PyTorch loop
  (last: it gets what time is left).
Without a CUDA device the benchmarks are marked "skipped: no CUDA device" and the tests run their CPU
part and skip: the script runs anywhere and never writes a figure it did not measure.
Writes build/gpu-check/results.json, results.md and log.txt (every section's output), and copies them
to $OUT when that is set (the GPU machine's tool brings $OUT back). See docs/gpu-check.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision

from scripts.gpu_report import goals, write_report

OUTPUT = Path("build/gpu-check")
DEADLINE_S = 560  # all sections together: the GPU machine's tool allows 600 s per command
INTERRUPT_GRACE_S = 30  # after Ctrl-C a section stops its TorchServe; then its process group is killed
NO_CUDA = "skipped: no CUDA device"


@dataclass(frozen=True)
class Section:
    """One part of the check: `python <args>` (split like a shell; '{out}' stands for the section's result file)."""

    name: str
    title: str
    args: str
    result_file: str
    needs_cuda: bool
    timeout_s: int


SECTIONS = (
    Section(
        "model",
        "Model throughput (bench_model, CUDA, batch 256, bfloat16)",
        "-m benchmarks.bench_model --device cuda --batch 256 --precision bfloat16 --compile --repeats 20 --json {out}",
        "model.json",
        needs_cuda=True,
        timeout_s=200,
    ),
    Section(
        "tests",
        "Tests marked gpu",
        "-m pytest tests/gpu -m gpu -p no:cacheprovider -o junit_family=xunit1 --junitxml {out} -rA",
        "tests.xml",
        needs_cuda=False,
        timeout_s=240,
    ),
    Section(
        "serve",
        "Served throughput (bench_serve, CUDA, bfloat16, JPEG payloads)",
        "-m benchmarks.bench_serve --device cuda --precision bfloat16 --workers 1 2 --batch 32 128 "
        "--concurrency 256 --requests 4096 --clients 8 --json {out}",
        "serve.json",
        needs_cuda=True,
        timeout_s=240,
    ),
    Section(
        "export",
        "Export runtimes (bench_runtimes, CUDA, batch 64: ONNX Runtime CUDA/TensorRT, AOTInductor vs ours prepared)",
        "-m benchmarks.bench_runtimes --device cuda --batch 64 --repeats 10 --json {out}",
        "export.json",
        needs_cuda=True,
        timeout_s=150,
    ),
    Section(
        "train",
        "Training throughput (bench_train, CUDA, resnet50, batch 32, bfloat16: the fine-tuning loop vs a bare one)",
        "-m benchmarks.bench_train --device cuda --arch resnet50 --steps 8 --repeats 2 --warmup 1 --workers 8 "
        "--json {out}",
        "train.json",
        needs_cuda=True,
        timeout_s=120,
    ),
)


def run_section(section: Section, directory: Path, seconds_left: float, log: Any) -> dict[str, Any]:
    """Run one section (or skip it without CUDA); return its command, status, seconds and parsed results."""
    out = directory / section.result_file
    command = [sys.executable, *(arg.replace("{out}", str(out)) for arg in shlex.split(section.args))]
    report: dict[str, Any] = {"title": section.title, "command": " ".join(["python", *command[1:]])}
    if section.needs_cuda and not torch.cuda.is_available():
        return {**report, "status": NO_CUDA}
    out.unlink(missing_ok=True)
    if seconds_left < 1:
        return {**report, "status": f"skipped: the check's {DEADLINE_S} s were used up"}
    timeout = min(section.timeout_s, seconds_left)
    log.write(f"\n===== {section.name}: {report['command']} (limit {timeout:.0f} s)\n")
    log.flush()
    start = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        status = _status(process.wait(timeout), section)
    except subprocess.TimeoutExpired:
        _stop(process)
        status = f"timed out after {timeout:.0f} s"
    report.update(status=status, seconds=round(time.monotonic() - start, 1))
    if out.is_file():
        report["results"] = read_junit(out) if out.suffix == ".xml" else json.loads(out.read_text())
    return report


def _status(returncode: int, section: Section) -> str:
    if returncode == 0:
        return "ok"
    if section.name == "tests" and returncode == 1:
        return "failed: some tests failed"
    return f"failed: exit status {returncode} (see log.txt)"


def _stop(process: subprocess.Popen) -> None:
    """Interrupt the section (its TorchServe stops with it), then kill whatever is left of its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(INTERRUPT_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def read_junit(path: Path) -> list[dict[str, Any]]:
    """Each test of a pytest JUnit XML file: name, outcome, message, seconds and the figures it recorded."""
    tests = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome = "failed" if tag != "skipped" else "skipped"
                message = element.get("message", "")
                break
        figures = {prop.get("name"): prop.get("value") for prop in case.iter("property")}
        name = f"{case.get('classname', '').rpartition('.')[2]}::{case.get('name')}"
        tests.append(
            {
                "test": name,
                "outcome": outcome,
                "message": message,
                "seconds": round(float(case.get("time", 0)), 1),
                "figures": figures,
            }
        )
    return tests


def device_info() -> dict[str, Any]:
    """The card and the software that ran the check."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cpu_cores": os.cpu_count(),
        "cuda": torch.cuda.is_available(),
    }
    if info["cuda"]:
        properties = torch.cuda.get_device_properties(0)
        info.update(
            card=properties.name,
            memory_gib=round(properties.total_memory / 2**30, 1),
            capability=f"{properties.major}.{properties.minor}",
            cuda_runtime=torch.version.cuda,
        )
        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            info["driver"] = subprocess.run(query, capture_output=True, text=True, check=False).stdout.strip()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder of the results")
    parser.add_argument("--sections", nargs="+", choices=[s.name for s in SECTIONS], help="default: all")
    args = parser.parse_args()

    args.output.mkdir(parents=True, exist_ok=True)
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else None
    deadline = time.monotonic() + DEADLINE_S
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "device": device_info(),
        "sections": {},
        "goals": [],
    }
    with open(args.output / "log.txt", "w") as log:
        for section in SECTIONS:
            if args.sections and section.name not in args.sections:
                continue
            report["sections"][section.name] = run_section(section, args.output, deadline - time.monotonic(), log)
            report["goals"] = goals(report["sections"], report["device"])
            log.flush()
            write_report(report, args.output, out)
            print(f"{section.name}: {report['sections'][section.name]['status']}", flush=True)
    print((args.output / "results.md").read_text())


if __name__ == "__main__":
    main()
