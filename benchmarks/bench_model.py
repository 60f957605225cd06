"""Forward throughput of the antialiased ResNet50 against torchvision's ResNet50, in one run on the same inputs.

Prints each variant's median forward time per batch and its images/s as it is measured, then its time as
a ratio to torchvision eager (the baseline on the CPU) and its throughput as a ratio to torchvision
prepared (the fair baseline when both are optimised: the goal is ours prepared >= 0.8x). It also times
torchvision's ResNet50 rewritten by `antialiased.antialias` (the same computation as ours, through a torch.fx
graph) and prints its time as a ratio to ours eager (the goal: <= 1.05x). Eager variants compute in float32;
prepared ones (batch norm folded, channels_last) use `--precision` autocast on CUDA, float32 on the CPU.
Usage: make bench   (or: python -m benchmarks.bench_model --batch 8 --repeats 10 [--compile]
                     [--device cuda --batch 256 --precision bfloat16] [--json results.json])
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from torchvision.models import resnet50 as tv_resnet50

from antialiased.antialiasing import antialias
from antialiased.inference import PRECISIONS, prepare_for_inference, to_model_input
from antialiased.models import create_model
from benchmarks.timing import describe_device, median_ratio, median_seconds

BASELINE = "torchvision resnet50 eager"
PREPARED_BASELINE = "torchvision resnet50 prepared"
OURS_PREPARED = "ours resnet50_lpf4 prepared"
OURS_COMPILED = "ours resnet50_lpf4 prepared+compile"
OURS_EAGER = "ours resnet50_lpf4 eager"
REWRITTEN = "antialias(torchvision resnet50) eager"


def _reference_model() -> torch.nn.Module | None:
    try:
        import antialiased_cnns  # the paper's package: a dev dependency, used only to compare
    except ImportError:
        return None
    return antialiased_cnns.resnet50(filter_size=4)


def variants(
    x: torch.Tensor, device: torch.device, precision: torch.dtype | None, compile: bool
) -> dict[str, tuple[torch.nn.Module, torch.Tensor]]:
    """Name -> (model on `device`, its input): the baseline first."""
    ours = create_model("resnet50", filter_size=4).eval().to(device)
    baseline_model = tv_resnet50().eval().to(device)
    prepared_x = to_model_input(x)
    found: dict[str, tuple[torch.nn.Module, torch.Tensor]] = {BASELINE: (baseline_model, x)}
    reference = _reference_model()
    if reference is not None:
        found["reference resnet50_lpf4 eager"] = (reference.eval().to(device), x)
    found[OURS_EAGER] = (ours, x)
    # The options under which antialias() computes the zoo's resnet50 (docs/antialias.md).
    found[REWRITTEN] = (antialias(tv_resnet50(), max_pool_kernel=2).model.eval().to(device), x)
    found[OURS_PREPARED] = (prepare_for_inference(ours, device, autocast_dtype=precision), prepared_x)
    # The same preparation applied to the baseline: what antialiasing costs when both are optimised.
    found[PREPARED_BASELINE] = (prepare_for_inference(baseline_model, device, autocast_dtype=precision), prepared_x)
    if compile:
        compiled = prepare_for_inference(ours, device, compile=True, autocast_dtype=precision)
        found[OURS_COMPILED] = (compiled, prepared_x)
    return found


def rewritten_vs_ours(
    timed: dict[str, tuple[torch.nn.Module, torch.Tensor]], repeats: int, device: torch.device
) -> float:
    """Time of torchvision's ResNet50 rewritten by `antialias` over the zoo's, the two run in alternation."""
    (rewritten, x), (ours, _) = timed[REWRITTEN], timed[OURS_EAGER]
    return median_ratio(lambda: rewritten(x), lambda: ours(x), repeats=repeats, device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also time the prepared model under torch.compile")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="bfloat16", help="autocast dtype on CUDA")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    device = torch.device(args.device)
    precision = args.precision if device.type == "cuda" else "float32"
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    timed = variants(x, device, PRECISIONS[precision], args.compile)

    header = (
        f"batch {args.batch}, {args.size}x{args.size}, {describe_device(device)}, prepared in {precision}, "
        f"torch {torch.__version__}, {os.cpu_count()} cores, median of {args.repeats}"
    )
    print(header)
    rows = []
    with torch.inference_mode():
        for name, (model, inp) in timed.items():
            seconds = median_seconds(lambda m=model, i=inp: m(i), repeats=args.repeats, device=device)
            rows.append({"name": name, "ms": seconds * 1e3, "images_per_second": args.batch / seconds})
            print(f"{name:40s} {seconds * 1e3:8.1f} ms {args.batch / seconds:9.1f} images/s", flush=True)
    baseline, prepared = (next(row for row in rows if row["name"] == name) for name in (BASELINE, PREPARED_BASELINE))
    print(f"{'':40s} time / torchvision eager   throughput / torchvision prepared")
    for row in rows:
        row["time_vs_torchvision_eager"] = row["ms"] / baseline["ms"]
        row["throughput_vs_torchvision_prepared"] = row["images_per_second"] / prepared["images_per_second"]
        print(
            f"{row['name']:40s} {row['time_vs_torchvision_eager']:23.2f}x "
            f"{row['throughput_vs_torchvision_prepared']:36.2f}x"
        )
    with torch.inference_mode():
        ratio = rewritten_vs_ours(timed, args.repeats, device)
    next(row for row in rows if row["name"] == REWRITTEN)["time_vs_ours_eager"] = ratio
    print(f"{REWRITTEN} / {OURS_EAGER}, timed in alternation: {ratio:.3f}x time (goal <= 1.05x)")
    if args.json:
        config = {"batch": args.batch, "size": args.size, "device": describe_device(device), "precision": precision,
                  "torch": torch.__version__, "repeats": args.repeats}  # fmt: skip
        args.json.write_text(json.dumps({"config": config, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
