"""Forward throughput of the antialiased ResNet50 on the runtimes an export reaches, in one run on the same inputs,
against the prepared eager model (batch norm folded, channels_last: what the handler serves).

CPU: ONNX Runtime and OpenVINO (float32) on the exported ONNX file, and the `.pt2` program compiled by AOTInductor
(where a C++ compiler is present). CUDA: ONNX Runtime's CUDA provider (float32) and TensorRT provider (fp16, bf16),
where this onnxruntime has them (their times include copying the batch to the card and back), and AOTInductor; the
baseline runs under bfloat16 autocast. Each row: median time
and images/s, its time over the baseline's timed in alternation with it (`median_ratio`, so that load that comes and
goes weighs on both), and its largest probability difference from the float32 eager model on the same batch. A row a
runtime cannot run here says why. The handler gains a `runtime` option only for a runtime at <= 0.9x the baseline's
time (docs/benchmarks.md).
Usage: make bench   (or: python -m benchmarks.bench_runtimes --batch 8 --repeats 10 [--device cuda --batch 64]
                     [--no-aoti] [--json results.json])
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from antialiased.export.pt2 import export_program
from antialiased.export.source import ExportSource
from antialiased.export.writers import missing_packages
from antialiased.inference import PRECISIONS, prepare_for_inference, to_model_input
from antialiased.label_sets import IMAGENET
from antialiased.models import create_model
from benchmarks.spread_logits import spread_logits_
from benchmarks.timing import describe_device, median_ratio, median_seconds

BASELINE = "ours resnet50_lpf4 prepared"
RUNTIME_GOAL = 0.9  # time over the baseline's below which a handler `runtime` option is worth its code

Forward = Callable[[], torch.Tensor]


@dataclass
class Variant:
    name: str
    forward: Forward | None  # None: skipped, `why` says why
    why: str = ""


def _model(x: torch.Tensor) -> torch.nn.Module:
    """The antialiased ResNet50, random weights (seeded) with its logits spread on `x`, on the CPU."""
    torch.manual_seed(0)
    return spread_logits_(create_model("resnet50", 4), x.cpu())


def _onnx_forward(path: Path, x: torch.Tensor, runtime: str, providers: list | None = None) -> Forward:
    from antialiased.export.runtimes import open_session

    session = open_session(path, runtime, providers, threads=torch.get_num_threads())
    inputs = x.cpu().numpy()
    return lambda: torch.from_numpy(np.asarray(session(inputs)[0]))


def _onnxruntime_gpu(path: Path, x: torch.Tensor) -> list[Variant]:
    import onnxruntime

    from antialiased.export.runtimes import runtime_version

    available = onnxruntime.get_available_providers()
    version = runtime_version("onnxruntime")
    tensorrt = [(f"TensorRT {p}", [("TensorrtExecutionProvider", {f"trt_{p}_enable": True}), "CUDAExecutionProvider"])
                for p in ("fp16", "bf16")]  # fmt: skip
    found = []
    for label, providers in [("CUDA fp32", ["CUDAExecutionProvider"]), *tensorrt]:
        name = f"{version} {label}"
        provider = providers[0] if isinstance(providers[0], str) else providers[0][0]
        if provider not in available:
            found.append(Variant(name, None, f"skipped: this onnxruntime has no {provider} (onnxruntime-gpu)"))
            continue
        try:
            found.append(Variant(name, _onnx_forward(path, x, "onnxruntime", providers)))
        except Exception as error:  # a provider that is listed but cannot start (libraries, this card)
            found.append(Variant(name, None, f"failed: {str(error).splitlines()[0][:200]}"))
    return found


def _aoti(source: ExportSource, x: torch.Tensor, workdir: Path) -> Variant:
    """The `.pt2` program of `python -m antialiased.export` (on CUDA: the same export of the network on the card),
    compiled by AOTInductor."""
    name = f"AOTInductor .pt2 ({x.device.type})"
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        return Variant(name, None, "skipped: no C++ compiler (g++) for AOTInductor")
    if x.device.type == "cpu":
        program = export_program(source)
    else:
        network = copy.deepcopy(source.network).to(x.device)
        program = torch.export.export(network, (x[:2],), dynamic_shapes=({0: torch.export.Dim.AUTO},))
    package = torch._inductor.aoti_compile_and_package(program, package_path=str(workdir / "model.pt2"))
    compiled = torch._inductor.aoti_load_package(package)
    return Variant(name, lambda: compiled(x))


def _onnx_variants(source: ExportSource, x: torch.Tensor, workdir: Path) -> list[Variant]:
    """The exported ONNX file on the runtimes of the device; one row saying why not where the packages are missing
    (a GPU machine with its own Python: requirements-export.txt is not in the GPU bundle)."""
    missing = missing_packages()
    if missing:
        return [Variant("ONNX", None, f"skipped: {', '.join(missing)} not installed (requirements-export.txt)")]
    from antialiased.export.onnx import export_onnx
    from antialiased.export.runtimes import runtime_version

    path = export_onnx(source, workdir / "resnet50_lpf4.onnx")
    if x.device.type == "cuda":
        return _onnxruntime_gpu(path, x)
    runtimes = ("onnxruntime", "openvino")
    return [Variant(f"{runtime_version(r)} CPU fp32", _onnx_forward(path, x, r)) for r in runtimes]


def variants(x: torch.Tensor, device: torch.device, precision: str, aoti: bool, workdir: Path) -> list[Variant]:
    """The baseline first, then each runtime of the export on `device`."""
    model = _model(x)
    source = ExportSource("resnet50_lpf4", model, IMAGENET, "resnet50", 4)
    prepared = prepare_for_inference(model, device, autocast_dtype=PRECISIONS[precision])
    prepared_x = to_model_input(x)
    found = [Variant(BASELINE, lambda: prepared(prepared_x))]
    found += _onnx_variants(source, x, workdir)
    if aoti:
        found.append(_aoti(source, x, workdir))
    return found


def measure(variant: Variant, baseline: Forward, expected: torch.Tensor, batch: int, repeats: int,
            device: torch.device) -> dict:  # fmt: skip
    """One row: the variant's time, images/s, time over the baseline's and probability difference (or why not)."""
    if variant.forward is None:
        return {"name": variant.name, "status": variant.why}
    seconds = median_seconds(variant.forward, repeats=repeats, device=device)
    got = variant.forward().float().softmax(dim=1).cpu()
    return {
        "name": variant.name,
        "status": "ok",
        "ms": seconds * 1e3,
        "images_per_second": batch / seconds,
        "time_vs_baseline": median_ratio(variant.forward, baseline, repeats=repeats, device=device),
        "max_probability_difference": float((got - expected).abs().max()),
    }


def _line(row: dict) -> str:
    if row["status"] != "ok":
        return f"{row['name']:45s} {row['status']}"
    return (
        f"{row['name']:45s} {row['ms']:8.1f} ms {row['images_per_second']:8.1f} images/s "
        f"{row['time_vs_baseline']:6.2f}x time, probabilities within {row['max_probability_difference']:.1e}"
    )


def verdict(rows: list[dict]) -> str:
    """Which runtime, if any, is fast enough for a handler option."""
    best = min((r for r in rows[1:] if r["status"] == "ok"), key=lambda r: r["time_vs_baseline"], default=None)
    if best is None:
        return "no runtime ran"
    worth = "a handler option is worth it" if best["time_vs_baseline"] <= RUNTIME_GOAL else "no handler option"
    return (
        f"best runtime: {best['name']} at {best['time_vs_baseline']:.2f}x the baseline's time ({worth}: <= "
        f"{RUNTIME_GOAL}x needed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="bfloat16", help="autocast dtype on CUDA")
    parser.add_argument("--no-aoti", dest="aoti", action="store_false", help="skip AOTInductor (minutes to compile)")
    parser.add_argument("--threads", type=int, help="CPU threads of every runtime (default: torch's, one per core)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precision = args.precision if device.type == "cuda" else "float32"
    x = torch.randn(args.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
    config = {"batch": args.batch, "device": describe_device(device), "precision": precision,
              "torch": torch.__version__, "cores": os.cpu_count(), "repeats": args.repeats}  # fmt: skip
    print(", ".join(f"{key} {value}" for key, value in config.items()), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_runtimes-") as workdir, torch.inference_mode():
        found = variants(x, device, precision, args.aoti, Path(workdir))
        expected = _model(x).to(device)(x).float().softmax(dim=1).cpu()
        for variant in found:
            rows.append(measure(variant, found[0].forward, expected, args.batch, args.repeats, device))
            print(_line(rows[-1]), flush=True)
            if args.json:  # after each row: a run stopped at its time limit keeps what it measured
                args.json.write_text(json.dumps({"config": config, "rows": rows, "verdict": verdict(rows)}, indent=2))
    print(verdict(rows))


if __name__ == "__main__":
    main()
