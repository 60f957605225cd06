"""Forward time of the antialiased ResNet50 against torchvision's ResNet50, in one run on the same inputs.

Prints each variant's median forward time at batch 8, 224x224, as a ratio to torchvision eager.
Usage: make bench   (or: python -m benchmarks.bench_model --batch 8 --repeats 10 [--compile])
"""

from __future__ import annotations

import argparse
import os

import torch
from torchvision.models import resnet50 as tv_resnet50

from antialiased.inference import prepare_for_inference, to_model_input
from antialiased.models import create_model
from benchmarks.timing import median_seconds


def _reference_model() -> torch.nn.Module | None:
    try:
        import antialiased_cnns  # the paper's package: a dev dependency, used only to compare
    except ImportError:
        return None
    return antialiased_cnns.resnet50(filter_size=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also time the prepared model under torch.compile")
    args = parser.parse_args()

    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    ours = create_model("resnet50", filter_size=4).eval()
    baseline_model = tv_resnet50().eval()
    variants: dict[str, tuple[torch.nn.Module, torch.Tensor]] = {"torchvision resnet50 eager": (baseline_model, x)}
    reference = _reference_model()
    if reference is not None:
        variants["reference resnet50_lpf4 eager"] = (reference.eval(), x)
    variants["ours resnet50_lpf4 eager"] = (ours, x)
    variants["ours resnet50_lpf4 prepared"] = (prepare_for_inference(ours), to_model_input(x))
    # The same preparation applied to the baseline: what antialiasing costs when both are optimised.
    variants["torchvision resnet50 prepared"] = (prepare_for_inference(baseline_model), to_model_input(x))
    if args.compile:
        variants["ours resnet50_lpf4 prepared+compile"] = (prepare_for_inference(ours, compile=True), to_model_input(x))

    print(
        f"batch {args.batch}, {args.size}x{args.size}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} cores, median of {args.repeats}"
    )
    baseline = None
    with torch.inference_mode():
        for name, (model, inp) in variants.items():
            seconds = median_seconds(lambda m=model, i=inp: m(i), repeats=args.repeats)
            baseline = baseline or seconds
            print(f"{name:40s} {seconds * 1000:8.1f} ms  {seconds / baseline:5.2f}x torchvision eager")


if __name__ == "__main__":
    main()
