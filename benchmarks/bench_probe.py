"""Latency of one /v1/stability probe against an in-process batched forward of the same views, per protocol.

Cases (--case, repeatable; default all): `diagonal` (32 shifts (d, d)), `worst-case` (every shift of the ±8 window:
289 views; its median is the protocol's cost per image) and `fractional` (Fourier sub-pixel views; the cost of the
Fourier shift itself, `shifted_views`, is timed against the forward pass). The in-process forward runs the views in
forward passes of the handler's `max_view_pixels_per_forward`, as the handler does.
Builds an archive of the model with random weights (or uses --weights), starts TorchServe and the probe service
on free local ports, and in the same run prepares the same network with the same weights exactly as the handler
does. The two measurements alternate, so load from elsewhere affects both alike. Prints medians and the ratio
(goal: <= 1.25 on a 2-core CPU). TorchServe's direct answer to the same shift request is timed too, to show
where the overhead lies.
Usage: make bench-probe   (or: python -m benchmarks.bench_probe --case worst-case --repeats 3)
"""

from __future__ import annotations

import argparse
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
from antialiased.serving.handler_client import ClientOptions, HandlerClient
from antialiased.transforms import shifted_views
from antialiased.weights import sha256_file
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_config, model_spec
from handlers.model import load_prepared_model
from handlers.settings import HandlerSettings
from launcher.probe_service import start_service
from launcher.torchserve import start_torchserve

SAMPLE = Path(__file__).resolve().parent.parent / "service" / "static" / "samples" / "chelsea.jpg"
MODEL = "resnet50_lpf4"
GOAL = 1.25
CASES = {
    "diagonal": lambda shifts: ProbeSpec(protocol="diagonal", max_shift=shifts - 1),
    "worst-case": lambda shifts: ProbeSpec(protocol="worst-case", max_shift=8),
    "fractional": lambda shifts: ProbeSpec(protocol="fractional", max_shift=8, subpixel_step=0.25),
}
WEIGHTS_ENTRY = "resnet50_lpf4_finetune"  # the architecture of the served model (weights random unless given)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="protocols to time (default: all)")
    parser.add_argument("--shifts", type=int, default=32, help="diagonal case: shifts (d, d), d = 0..shifts-1")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--image", type=Path, default=SAMPLE)
    parser.add_argument("--weights", type=Path, help="a checkpoint of resnet50 lpf4 (default: random weights)")
    args = parser.parse_args()

    image_bytes = args.image.read_bytes()
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
        store, log = workdir / "store", workdir / "ts.log"
        print(
            f"{MODEL}, {'random' if untrained else 'given'} weights, torch {torch.__version__}, {os.cpu_count()} "
            f"cores, {torch.get_num_threads()} threads in-process, median of {args.repeats} (interleaved)"
        )
        with start_torchserve(store, [MODEL], workdir / "ts", log_file=log) as torchserve:
            torchserve.wait_until_ready()
            with (
                start_service(
                    torchserve.inference_url, env={"PROBE_MODELS": MODEL}, log_file=workdir / "service.log"
                ) as service,
                httpx.Client(timeout=600) as client,
            ):
                for case in args.case or list(CASES):
                    probe_spec = CASES[case](args.shifts)
                    run = Case(client, service.url, torchserve, model, settings, image_bytes, probe_spec)
                    report(case, run.measure(args.warmup, args.repeats), run)


class Case:
    """One protocol's probe through the service, the same shift request to TorchServe, and the in-process work."""

    def __init__(self, client, service_url, torchserve, model, settings, image_bytes, spec: ProbeSpec) -> None:
        self.plan = make_plan(spec)
        self.client, self.service_url, self.torchserve, self.model = client, service_url, torchserve, model
        self.image_bytes, self.image = image_bytes, decode_image(image_bytes)
        self.params = {"model": MODEL, **spec.model_dump(exclude_unset=True)}
        crop = self.plan.request.crop_size
        self.per_forward = settings.limits.max_view_pixels_per_forward // (crop * crop)

    def cut(self) -> torch.Tensor:
        return to_model_input(shifted_views(self.image, self.plan.request))

    def forward(self, views: torch.Tensor) -> None:
        with torch.inference_mode():
            for chunk in views.split(self.per_forward):
                self.model(chunk)

    def probe(self) -> None:
        response = self.client.post(f"{self.service_url}/v1/stability", params=self.params, content=self.image_bytes)
        response.raise_for_status()

    def direct(self) -> None:
        """The same shift request to TorchServe, through the contract's client (in chunks, as the service sends it)."""
        options = ClientOptions(self.torchserve.inference_url, timeout_s=600, headers=self.torchserve.headers)
        with HandlerClient(options) as client:
            client.classify_shifts(MODEL, self.image_bytes, self.plan.request, topk=5)

    def measure(self, warmup: int, repeats: int) -> dict[str, float]:
        views = self.cut()
        for _ in range(warmup):
            self.probe(), self.direct(), self.forward(views)
        times: dict[str, list[float]] = {"service": [], "torchserve": [], "in-process": [], "cut": []}
        for _ in range(repeats):
            times["service"].append(_timed(self.probe))
            times["torchserve"].append(_timed(self.direct))
            times["in-process"].append(_timed(lambda: self.forward(views)))
            times["cut"].append(_timed(self.cut))
        return {name: statistics.median(values) for name, values in times.items()}


def report(case: str, medians: dict[str, float], run: Case) -> None:
    request, views = run.plan.request, len(run.plan.offsets)
    method = f", {request.method} sub-pixel views" if request.method else ""
    print(f"\n{case}: {views} views ({request.mode}, {request.crop_size}px{method})")
    baseline = medians["in-process"]
    for name, label in (
        ("in-process", "in-process forward of the views (same prepared model)"),
        ("torchserve", "TorchServe shift request, direct"),
        ("service", "POST /v1/stability (service -> TorchServe)"),
    ):
        rate = views / medians[name]
        print(f"{label:56s} {medians[name] * 1000:9.1f} ms {rate:8.1f} views/s {medians[name] / baseline:5.2f}x")
    print(f"{'cutting the views in-process (shifted_views)':56s} {medians['cut'] * 1000:9.1f} ms "
          f"{medians['cut'] / baseline:5.2f}x the forward")  # fmt: skip
    ratio = medians["service"] / baseline
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"ratio /v1/stability / in-process forward: {ratio:.2f} (goal <= {GOAL}): {verdict}; "
          f"cost per image {medians['service']:.2f} s")  # fmt: skip


def random_weights(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save({"state_dict": create_model("resnet50", filter_size=4).state_dict()}, path)
    return path


if __name__ == "__main__":
    main()
