"""What the fine-tuning tests share: a small data folder, a random baseline checkpoint in the official format, the
command line (alone, or under torchrun with gloo processes), and the records a run writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torchvision

from antialiased.finetune.logs import STEPS_FILE, read_records
from antialiased.weights import save_checkpoint
from tests.support.datasets import write_photo_folder

ROOT = Path(__file__).resolve().parents[2]
NAME = "my_resnet18_lpf4"
# 5 classes x 4 images, batches of 8 at 64 px: 2 steps an epoch, a few seconds of CPU a step.
SMALL = ["--batch-size", "8", "--crop-size", "64", "--workers", "0", "--quiet", "--lr", "0.05"]


def small_data(root: Path, images_per_class: int = 4) -> Path:
    return write_photo_folder(root, images_per_class=images_per_class)


def baseline_checkpoint(directory: Path, arch: str = "resnet18") -> Path:
    """torchvision's `arch` with seeded random weights, written as a baseline checkpoint."""
    torch.manual_seed(0)
    return save_checkpoint(torchvision.models.get_model(arch), directory, f"{arch}_random_baseline")


def finetune_args(data: Path, weights: Path, out: Path, *extra: str) -> list[str]:
    """The command line's arguments of a small run of resnet18 from `weights` on `data` into `out`."""
    return ["--model", "resnet18", "--weights", str(weights), "--data", str(data), "--name", NAME, "--out", str(out),
            *SMALL, *extra]  # fmt: skip


def command(args: list[str], processes: int = 1) -> list[str]:
    """`python -m antialiased.finetune ARGS`, or under torchrun with `processes` gloo processes on this CPU."""
    if processes == 1:
        return [sys.executable, "-m", "antialiased.finetune", *args]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    return [*launcher, "-m", "antialiased.finetune", *args]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}  # torchrun gives each of its processes one thread


def run(args: list[str], processes: int = 1, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command's completed process (not checked)."""
    return subprocess.run(
        command(args, processes), cwd=cwd, env=environment(), capture_output=True, text=True, timeout=600
    )


def step_losses(out: Path) -> list[float]:
    return [record["loss"] for record in read_records(out / NAME / STEPS_FILE)]
