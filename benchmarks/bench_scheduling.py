"""Latency of plain classifications while worst-case probes run, with the probe service's scheduling of heavy work
off (each probe one TorchServe request, as before) and on (chunks in fair turns), in the same run: the ratios on / off.

Builds resnet50_lpf4 with random weights, its handler's per-request view limit raised to a whole worst-case probe (so
that the service with scheduling off can send one as a single request, as before the limit), starts TorchServe and
two probe services in front of it (PROBE_SCHEDULING off, and on with the default chunk of 64 views of 224 x 224).
For each count of concurrent probes (--probes; 1 and 4 by default), with each service in turn: that many worst-case
probes (every offset of the +-8 window: 289 crop views of 224 x 224) start at once, and while they run a plain
classification (one JPEG, POST /predictions) goes to TorchServe every --interval seconds (open loop: a request does
not wait for the one before, so the latencies sample what a request arriving at any moment of the probes waits).
Prints the plain classifications' median, 90th percentile and largest latency, the probes' own time, and the ratios
on / off.
Usage: make bench-scheduling   (or: python -m benchmarks.bench_scheduling --probes 1 --max-shift 4 --interval 1)
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
from antialiased.shifts import MAX_OFFSETS_PER_REQUEST
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_spec
from benchmarks.bench_probe import MODEL, SAMPLE, WEIGHTS_ENTRY, random_weights
from launcher.probe_service import start_service
from launcher.torchserve import TorchServe, start_torchserve

WHOLE_PROBE = MAX_OFFSETS_PER_REQUEST * CROP_SIZE**2  # the limit before chunking: the batch's view pixels
PLAIN_AT_ONCE = 256  # plain classifications in flight at most (TorchServe's queue holds 64)


@dataclass(frozen=True)
class Outcome:
    """What one run measured: each answered plain classification's latency (s), how many TorchServe refused (its
    queue full: 503), the probes' time (s) and their HTTP statuses (before scheduling, a batch of several whole
    probes may outlast TorchServe's responseTimeout on a slow CPU, and its worker is restarted: 502)."""

    latencies: list[float]
    refused: int
    probes_s: float
    probe_statuses: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.latencies, n=10)[-1] if len(self.latencies) > 1 else self.largest

    @property
    def largest(self) -> float:
        return max(self.latencies)


def run(torchserve: TorchServe, service_url: str, probes: int, max_shift: int, image: bytes, every_s: float) -> Outcome:
    """`probes` worst-case probes at once through the service, and a plain classification every `every_s` seconds
    meanwhile."""
    params = {"model": MODEL, "protocol": "worst-case", "max_shift": max_shift}
    url = f"{service_url}/v1/stability"
    limits = httpx.Limits(max_connections=None)
    with httpx.Client(timeout=3600, limits=limits) as client, ThreadPoolExecutor(PLAIN_AT_ONCE) as pool:
        started = time.perf_counter()
        running = [pool.submit(client.post, url, params=params, content=image) for _ in range(probes)]
        plain = []
        while not all(probe.done() for probe in running):
            plain.append(pool.submit(_timed_plain, torchserve, image, client, time.perf_counter()))
            time.sleep(every_s)
        probes_s = time.perf_counter() - started
        statuses = [probe.result().status_code for probe in running]
        answers = [sent.result() for sent in plain]
    latencies = [seconds for status, seconds in answers if status == 200]
    return Outcome(latencies, sum(status == 503 for status, _ in answers), probes_s, statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, action="append", help="concurrent probes (repeatable; default 1, 4)")
    parser.add_argument("--max-shift", type=int, default=8, help="the worst-case window (8: 289 views)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between plain classifications")
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
            # Patient probes: each is timed to its end, retried while the batch is full (scheduling off).
            env = {
                "PROBE_MODELS": MODEL,
                "PROBE_DEADLINE_S": "3600",
                "PROBE_TIMEOUT_S": "3600",
                "PROBE_RETRIES": "1000",
            }
            with (
                start_service(
                    torchserve.inference_url, env={**env, "PROBE_SCHEDULING": "false"}, log_file=workdir / "off.log"
                ) as before,
                start_service(torchserve.inference_url, env=env, log_file=workdir / "on.log") as after,
            ):
                with httpx.Client(timeout=600) as client:
                    idle = [_timed_plain(torchserve, image, client, time.perf_counter())[1] for _ in range(5)]
                print(f"plain classification, idle: median {statistics.median(idle) * 1000:.0f} ms; one sent every "
                      f"{args.interval:g} s while the probes run")  # fmt: skip
                for probes in args.probes or [1, 4]:
                    off = run(torchserve, before.url, probes, args.max_shift, image, args.interval)
                    on = run(torchserve, after.url, probes, args.max_shift, image, args.interval)
                    report(probes, off, on)


def _timed_plain(torchserve: TorchServe, image: bytes, client: httpx.Client, sent: float) -> tuple[int, float]:
    """The status of one plain classification sent to TorchServe at `sent`, and the seconds since then."""
    url = f"{torchserve.inference_url}/predictions/{MODEL}"
    response = client.post(url, content=image, headers=torchserve.headers())
    if response.status_code not in (200, 503):
        response.raise_for_status()
    return response.status_code, time.perf_counter() - sent


def report(probes: int, off: Outcome, on: Outcome) -> None:
    print(f"\n{probes} concurrent worst-case probe{'s' if probes > 1 else ''}:")
    for name, outcome in (("scheduling off (before)", off), ("scheduling on (after)", on)):
        print(f"  {name:24s} plain: {len(outcome.latencies):3d} answered ({outcome.refused} refused: queue full), "
              f"median {outcome.median:6.2f} s, p90 {outcome.p90:6.2f} s, largest {outcome.largest:6.2f} s; "
              f"probes done in {outcome.probes_s:6.1f} s, answered {outcome.probe_statuses}")  # fmt: skip
    print(f"  ratio on / off: median latency {on.median / off.median:.2f}, p90 {on.p90 / off.p90:.2f}, largest "
          f"{on.largest / off.largest:.2f}, probes' time {on.probes_s / off.probes_s:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
