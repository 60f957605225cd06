"""Latency of one /v1/stability probe with 32 shifts against one in-process batched forward of the same 32 crops.

Builds an archive of the model with random weights (or uses --weights), starts TorchServe and the probe service
on free local ports, and in the same run prepares the same network with the same weights exactly as the handler
does. The two measurements alternate, so load from elsewhere affects both alike. Prints medians and the ratio
(goal: <= 1.25 on a 2-core CPU). TorchServe's direct answer to the same shift request is timed too, to show
where the overhead lies.
Usage: make bench-probe   (or: python -m benchmarks.bench_probe --shifts 32 --repeats 7)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import torch

from antialiased.images import decode_image
from antialiased.inference import to_model_input
from antialiased.models import create_model
from antialiased.protocols import ProbeSpec, make_plan
from antialiased.transforms import shifted_views
from antialiased.weights import sha256_file
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_config, model_spec
from handlers.model import load_prepared_model
from handlers.settings import HandlerSettings
from launcher.probe import start_service
from launcher.torchserve import start_torchserve

SAMPLE = Path(__file__).resolve().parent.parent / "service" / "static" / "samples" / "chelsea.jpg"
MODEL = "resnet50_lpf4"
GOAL = 1.25
WEIGHTS_ENTRY = "resnet50_lpf4_finetune"  # the architecture of the served model (weights random unless given)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shifts", type=int, default=32, help="diagonal shifts (d, d), d = 0..shifts-1")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--image", type=Path, default=SAMPLE)
    parser.add_argument("--weights", type=Path, help="a checkpoint of resnet50 lpf4 (default: random weights)")
    args = parser.parse_args()

    image_bytes = args.image.read_bytes()
    plan = make_plan(ProbeSpec(protocol="diagonal", max_shift=args.shifts - 1))
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        workdir = Path(tmp)
        weights_path = args.weights or random_weights(workdir / "resnet50_lpf4_random.pth")
        untrained = args.weights is None
        spec = model_spec(get_entry(WEIGHTS_ENTRY))
        archive_name = None if untrained else WEIGHTS_ENTRY
        build_archive(
            MODEL,
            store=workdir / "store",
            weights_path=weights_path,
            model=spec,
            weights_name=archive_name,
            untrained=untrained,
        )
        # The in-process baseline: the handler's own preparation of the same network and weights, on the CPU.
        settings = HandlerSettings.from_model_config(
            model_config(spec, {"name": archive_name, "sha256": sha256_file(weights_path), "untrained": untrained})
        )
        model = load_prepared_model(settings, weights_path, torch.device("cpu"))
        views = to_model_input(shifted_views(decode_image(image_bytes), plan.request))

        def forward() -> None:
            with torch.inference_mode():
                model(views)

        store, log = workdir / "store", workdir / "ts.log"
        with start_torchserve(store, [MODEL], workdir / "ts", log_file=log) as torchserve:
            torchserve.wait_until_ready()
            with (
                start_service(
                    torchserve.inference_url, env={"PROBE_MODELS": MODEL}, log_file=workdir / "service.log"
                ) as service,
                httpx.Client(timeout=300) as client,
            ):
                params = {"model": MODEL, "protocol": "diagonal", "max_shift": args.shifts - 1}

                def probe() -> None:
                    response = client.post(f"{service.url}/v1/stability", params=params, content=image_bytes)
                    response.raise_for_status()

                def direct() -> None:
                    response = client.post(
                        f"{torchserve.inference_url}/predictions/{MODEL}",
                        files={"data": ("image", image_bytes, "application/octet-stream")},
                        data={"shifts": json.dumps(plan.request.to_json()), "topk": "5"},
                        headers=torchserve.headers(),
                    )
                    response.raise_for_status()

                for _ in range(args.warmup):
                    probe(), direct(), forward()
                times: dict[str, list[float]] = {"service": [], "torchserve": [], "in-process": []}
                for _ in range(args.repeats):
                    times["service"].append(_timed(probe))
                    times["torchserve"].append(_timed(direct))
                    times["in-process"].append(_timed(forward))

    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"{MODEL}, {len(plan.offsets)} shifts ({plan.request.crop_size}px crops), "
        f"{'random' if untrained else 'given'} weights, torch {torch.__version__}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads in-process, median of {args.repeats} (interleaved)"
    )
    baseline = medians["in-process"]
    for name, label in (
        ("in-process", "in-process batched forward (same prepared model)"),
        ("torchserve", "TorchServe shift request, direct"),
        ("service", "POST /v1/stability (service -> TorchServe)"),
    ):
        print(f"{label:52s} {medians[name] * 1000:8.1f} ms  {medians[name] / baseline:5.2f}x")
    ratio = medians["service"] / baseline
    print(
        f"ratio /v1/stability / in-process forward: {ratio:.2f} (goal <= 1.25): {'met' if ratio <= 1.25 else 'NOT met'}"
    )


def random_weights(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save({"state_dict": create_model("resnet50", filter_size=4).state_dict()}, path)
    return path


if __name__ == "__main__":
    main()
