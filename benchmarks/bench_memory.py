"""Memory of a forward pass per view pixel: the figure behind the handler's `max_view_pixels_per_forward`.

For each model and crop size, a fresh process prepares the model as a CPU worker does (batch norm folded,
channels_last, float32), warms it up at 224, then makes the views of one forward pass and runs it; its peak
resident memory above the warmed-up process (VmHWM after resetting it, less VmRSS before) is the pass's cost.
Per view pixel: that peak divided by the views' pixels (views x crop area), the unit of the handler's budget.
Linux only (/proc). Usage: make bench-memory   (or: python -m benchmarks.bench_memory --crops 448 672 992 --views 4)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from antialiased.inference import prepare_for_inference, to_model_input
from antialiased.models import create_baseline, create_model
from antialiased.preprocessing import CROP_SIZE

MODELS = {"resnet50_lpf4": lambda: create_model("resnet50", 4), "resnet50": lambda: create_baseline("resnet50")}
ROOT = Path(__file__).resolve().parents[1]


def _status(key: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


@torch.inference_mode()
def forward_growth(model_name: str, crop: int, views: int) -> int:
    """Peak resident bytes above the warmed-up process of one forward pass of `views` views of crop x crop."""
    torch.manual_seed(0)
    model = prepare_for_inference(MODELS[model_name](), "cpu")
    model(to_model_input(torch.zeros(1, 3, CROP_SIZE, CROP_SIZE)))
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current resident size
    before = _status("VmRSS")
    model(to_model_input(torch.randn(views, 3, crop, crop)))
    return _status("VmHWM") - before


def _measure(model_name: str, crop: int, views: int) -> int:
    command = [sys.executable, "-m", "benchmarks.bench_memory", "--one", model_name, str(crop), str(views)]
    return json.loads(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, nargs="+", default=[224, 448, 672, 992])
    parser.add_argument("--views", type=int, default=4, help="views of one forward pass")
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "CROP", "VIEWS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(forward_growth(args.one[0], int(args.one[1]), int(args.one[2]))))
        return
    for model_name in args.models:
        for crop in args.crops:
            growth = _measure(model_name, crop, args.views)
            print(f"{model_name}: {args.views} views of {crop} x {crop}: peak +{growth / 1e6:.0f} MB, "
                  f"{growth / (args.views * crop**2):.0f} bytes per view pixel", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
