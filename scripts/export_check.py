"""`make export-check`: the parity table of the ONNX export, measured. Every architecture of the zoo at its default
filter size, and timm networks rewritten by `antialias()`, exported and run on ONNX Runtime (the ResNet50 pair on
OpenVINO too) against eager PyTorch on the same inputs: the largest probability difference (bound 1e-4), the
largest logit difference, the inputs with the same top-1, and for a failing row the first diverging layer.

Random weights, the classifier scaled so that the probabilities spread (benchmarks.spread_logits); inputs are
`parity.parity_inputs`. The normal test suite runs a sample (tests/antialiased/export); this is the whole matrix,
minutes per large network on a small CPU. Prints a Markdown table; `--json` also writes the rows. Exit status 1 if a
row fails.
Usage: make export-check   (or: python -m scripts.export_check [--only resnet18 timm:efficientnet_b0] [--json F])
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import timm
import torch
from torch import nn

from antialiased.antialiasing import antialias
from antialiased.export.onnx import export_onnx
from antialiased.export.parity import ParityRow, check_parity, parity_inputs
from antialiased.export.source import ExportSource
from antialiased.label_sets import IMAGENET
from antialiased.models import DEFAULT_FILTER_SIZE, create_baseline, create_model, list_architectures
from antialiased.preprocessing import PAPER_PREPROCESSING
from benchmarks.spread_logits import spread_logits_

TIMM = ("efficientnet_b0", "resnet50d")
OPENVINO_TOO = {"resnet50", "torchvision:resnet50"}  # the ResNet50 pair


def networks() -> dict[str, tuple[Callable[[], nn.Module], int | None]]:
    """Row name -> (builder of the network, its filter size)."""
    found: dict[str, tuple[Callable[[], nn.Module], int | None]] = {
        arch: (lambda arch=arch: create_model(arch), DEFAULT_FILTER_SIZE) for arch in list_architectures()
    }
    found["torchvision:resnet50"] = (lambda: create_baseline("resnet50"), None)
    for name in TIMM:
        found[f"timm:{name}"] = (lambda name=name: antialias(timm.create_model(name, pretrained=False)).model, 4)
    return found


def check(name: str, build: Callable[[], nn.Module], filter_size: int | None, folder: Path) -> list[ParityRow]:
    """The rows of one network: exported, then compared on ONNX Runtime (and OpenVINO for the ResNet50 pair)."""
    inputs = parity_inputs(PAPER_PREPROCESSING)
    torch.manual_seed(0)
    model = spread_logits_(build(), inputs)
    path = export_onnx(ExportSource(name.replace(":", "_"), model, IMAGENET, name, filter_size), folder / "m.onnx")
    runtimes = ("onnxruntime", "openvino") if name in OPENVINO_TOO else ("onnxruntime",)
    rows = [check_parity(model, path, runtime, inputs=inputs) for runtime in runtimes]
    path.unlink()
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model | filter size | runtime | max probability difference | max logit difference | same top-1 | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        result = "ok" if row["passed"] else f"FAILED at {row['first_diverging_layer']}"
        lines.append(
            f"| {row['model']} | {row['filter_size'] or '-'} | {row['runtime']} | "
            f"{row['max_probability_difference']:.1e} | {row['max_logit_difference']:.1e} | "
            f"{row['same_top1']}/{row['inputs']} | {result} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.export_check", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these rows only (zoo names, timm:NAME)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    found = networks()
    unknown = sorted(set(args.only or ()) - set(found))
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {', '.join(found)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="export_check-") as folder:
        for name, (build, filter_size) in found.items():
            if args.only and name not in args.only:
                continue
            start = time.monotonic()
            for row in check(name, build, filter_size, Path(folder)):
                rows.append({**row.__dict__, "model": name, "filter_size": filter_size, "passed": row.passed})
                print(f"{row.describe()} ({time.monotonic() - start:.0f} s)", flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=2))
    print(markdown(rows))
    return 0 if all(row["passed"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
