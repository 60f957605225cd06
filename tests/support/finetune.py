"""What the fine-tuning tests share: a small data folder, a random baseline checkpoint in the official format, the
command line (alone, or under torchrun with gloo processes), the records a run writes, and `GatedResNet18` (resnet18
held at the gate of tests/support/gate.py, for tests that act on a run in progress)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torchvision
from torchvision.models.resnet import BasicBlock, ResNet

from antialiased.finetune.logs import STEPS_FILE, read_records
from antialiased.weights import save_checkpoint
from tests.support.datasets import write_photo_folder
from tests.support.gate import pass_gate

torch.fx.wrap("pass_gate")  # one node of the traced graph: antialias() keeps the gate

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


class GatedResNet18(ResNet):
    """torchvision's resnet18 (the same state_dict) whose forward passes go through the gate: one a training step."""

    def __init__(self) -> None:
        super().__init__(BasicBlock, [2, 2, 2, 2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(pass_gate(x))


def finetune_args(data: Path, weights: Path, out: Path, *extra: str, gated: bool = False) -> list[str]:
    """The command line's arguments of a small run of resnet18 from `weights` on `data` into `out` (`gated`:
    GatedResNet18, antialiased by `antialias()`, rather than the zoo's resnet18)."""
    model = (
        ["--model", f"{weights}:{__name__}:GatedResNet18"]
        if gated
        else ["--model", "resnet18", "--weights", str(weights)]
    )
    return [*model, "--data", str(data), "--name", NAME, "--out", str(out), *SMALL, *extra]


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
