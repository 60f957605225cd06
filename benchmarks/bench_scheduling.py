"""Latency of plain classifications while worst-case probes run, with the probe service's scheduling of heavy work
off (each probe one TorchServe request, as before) and on (chunks in fair turns), in the same run: the ratios on / off.

Builds resnet50_lpf4 with random weights, its handler's per-request view limit raised to a whole worst-case probe (so
that the service with scheduling off can send one as a single request, as before the limit), starts TorchServe and
two probe services in front of it (PROBE_SCHEDULING off, and on with the default chunk of 64 views of 224 x 224).
For each count of concurrent probes (--probes; 1 and 4 by default), with each service in turn: that many worst-case
probes (every offset of the +-8 window: 289 crop views of 224 x 224) start at once, and while they run plain
classifications (one JPEG, POST /predictions) go to TorchServe one after another; each one's latency is recorded.
Prints the plain classifications' median and largest latency, the probes' own time, and the ratios on / off.
Usage: make bench-scheduling   (or: python -m benchmarks.bench_scheduling --probes 1 --max-shift 4)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import torch

from antialiased.preprocessing import CROP_SIZE
from antialiased.shifts import MAX_SHIFTS_PER_REQUEST
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_spec
from benchmarks.bench_probe import MODEL, SAMPLE, WEIGHTS_ENTRY, random_weights
from launcher.probe import start_service
from launcher.torchserve import TorchServe, start_torchserve

WHOLE_PROBE = MAX_SHIFTS_PER_REQUEST * CROP_SIZE**2  # the limit before chunking: the batch's view pixels


@dataclass(frozen=True)
class Outcome:
    """What one run measured: each plain classification's latency (s) and the probes' time (s)."""

    latencies: list[float]
    probes_s: float

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)

    @property
    def largest(self) -> float:
        return max(self.latencies)


def run(torchserve: TorchServe, service_url: str, probes: int, max_shift: int, image: bytes) -> Outcome:
    """`probes` worst-case probes at once through the service, and plain classifications meanwhile."""
    params = {"model": MODEL, "protocol": "worst-case", "max_shift": max_shift}
    plain_url = f"{torchserve.inference_url}/predictions/{MODEL}"
    with httpx.Client(timeout=3600) as client, ThreadPoolExecutor(probes) as pool:
        started = time.perf_counter()
        url = f"{service_url}/v1/stability"
        running = [pool.submit(client.post, url, params=params, content=image) for _ in range(probes)]
        latencies = []
        while not all(probe.done() for probe in running):
            sent = time.perf_counter()
            client.post(plain_url, content=image, headers=torchserve.headers()).raise_for_status()
            latencies.append(time.perf_counter() - sent)
        probes_s = time.perf_counter() - started
        for probe in running:
            probe.result().raise_for_status()
    return Outcome(latencies, probes_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, action="append", help="concurrent probes (repeatable; default 1, 4)")
    parser.add_argument("--max-shift", type=int, default=8, help="the worst-case window (8: 289 views)")
    args = parser.parse_args()
    image = SAMPLE.read_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-scheduling-") as tmp:
        workdir = Path(tmp)
        store = workdir / "store"
        build_archive(
            MODEL,
            store=store,
            weights_path=random_weights(workdir / "weights.pth"),
            model=model_spec(get_entry(WEIGHTS_ENTRY)),
            weights_name=None,
            untrained=True,
            overrides={"handler": {"device": "cpu", "limits": {"max_view_pixels_per_request": WHOLE_PROBE}}},
        )
        views = (2 * args.max_shift + 1) ** 2
        print(f"{MODEL}, random weights, torch {torch.__version__}, {os.cpu_count()} cores; worst-case probes "
              f"(+-{args.max_shift}: {views} views of {CROP_SIZE}); plain: one JPEG")  # fmt: skip
        with start_torchserve(store, [MODEL], workdir / "ts", log_file=workdir / "ts.log") as torchserve:
            torchserve.wait_until_ready()
            env = {"PROBE_MODELS": MODEL, "PROBE_DEADLINE_S": "3600", "PROBE_TIMEOUT_S": "3600"}
            with (
                start_service(
                    torchserve.inference_url, env={**env, "PROBE_SCHEDULING": "false"}, log_file=workdir / "off.log"
                ) as before,
                start_service(torchserve.inference_url, env=env, log_file=workdir / "on.log") as after,
            ):
                idle = [_timed_plain(torchserve, image) for _ in range(5)]
                print(f"plain classification, idle: median {statistics.median(idle) * 1000:.0f} ms")
                for probes in args.probes or [1, 4]:
                    off = run(torchserve, before.url, probes, args.max_shift, image)
                    on = run(torchserve, after.url, probes, args.max_shift, image)
                    report(probes, off, on)


def _timed_plain(torchserve: TorchServe, image: bytes) -> float:
    started = time.perf_counter()
    url = f"{torchserve.inference_url}/predictions/{MODEL}"
    httpx.post(url, content=image, headers=torchserve.headers(), timeout=600).raise_for_status()
    return time.perf_counter() - started


def report(probes: int, off: Outcome, on: Outcome) -> None:
    print(f"\n{probes} concurrent worst-case probe{'s' if probes > 1 else ''}:")
    for name, outcome in (("scheduling off (before)", off), ("scheduling on (after)", on)):
        print(f"  {name:24s} plain: {len(outcome.latencies):3d} sent, median {outcome.median:6.2f} s, largest "
              f"{outcome.largest:6.2f} s; probes done in {outcome.probes_s:6.1f} s")  # fmt: skip
    print(f"  ratio on / off: median latency {on.median / off.median:.2f}, largest {on.largest / off.largest:.2f}, "
          f"probes' time {on.probes_s / off.probes_s:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
