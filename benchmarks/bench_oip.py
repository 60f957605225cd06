"""Triton's perf_analyzer against the Open Inference Protocol of the probe service (/v2, through TorchServe), beside
a closed-loop client that sends the same load to /v2 and, as the baseline, to TorchServe's own /predictions.

Builds an archive of resnet50_lpf4 with random weights (or --weights), starts TorchServe and the probe service on
free local ports, and for each concurrency runs perf_analyzer on /v2 (binary tensor data, one JPEG per request),
with the closed-loop client on /v2 and on /predictions before and after it. The ratio is /v2 over /predictions,
both from the same client. (perf_analyzer's own TorchServe mode is not the baseline: release 2.50 records no send
times there, "Timer not set correctly", and never reports.) Prints perf_analyzer's output and a table.
Usage: make bench-oip   (or: python -m benchmarks.bench_oip --concurrency 1 4)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_spec
from benchmarks import perf_analyzer
from benchmarks.bench_probe import MODEL, SAMPLE, WEIGHTS_ENTRY, random_weights
from benchmarks.bench_serve import drive
from launcher.probe_service import start_service
from launcher.torchserve import start_torchserve
from service.oip.protocol import InferRequest, encode_body, write_tensor


def oip_body(image: bytes) -> tuple[bytes, dict[str, str]]:
    """An inference request for one image, binary tensor data (as tritonclient and perf_analyzer send it)."""
    array = np.array([image], dtype=object)
    tensor, data = write_tensor("image", array, "BYTES", binary=True)
    return encode_body(InferRequest(inputs=[tensor]), [data])


def perf_analyzer_load(service_url: str, image: bytes, workdir: Path, concurrency: int, requests: int) -> dict:
    """perf_analyzer's report row for /v2 at `concurrency`."""
    data = workdir / "oip.json"  # "b64": the tensor as sent in binary (a BYTES element is its length, then its bytes)
    _, tensor = write_tensor("image", np.array([image], dtype=object), "BYTES", binary=True)
    element = base64.b64encode(tensor).decode()
    data.write_text(json.dumps({"data": [{"image": {"b64": element}}]}))
    # A fixed number of requests, like the closed-loop client's: on a shared 2-core machine windows never agree
    # closely enough for perf_analyzer's stability check.
    arguments = ["-m", MODEL, "-u", service_url.removeprefix("http://"), "-i", "http", "--input-data", str(data),
                 "--shape", "image:1", "--concurrency-range", str(concurrency),
                 "--request-count", str(requests)]  # fmt: skip
    return perf_analyzer.run(arguments, workdir / f"perf-analyzer-{concurrency}.csv")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--requests", type=int, default=8, help="requests per measurement and unit of concurrency")
    parser.add_argument("--image", type=Path, default=SAMPLE)
    parser.add_argument("--weights", type=Path, help="a checkpoint of resnet50 lpf4 (default: random weights)")
    args = parser.parse_args()

    image = args.image.read_bytes()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-oip-") as tmp, ProcessPoolExecutor(1) as pool:
        workdir = Path(tmp)
        weights = args.weights or random_weights(workdir / "resnet50_lpf4_random.pth")
        name = None if args.weights is None else WEIGHTS_ENTRY
        build_archive(MODEL, store=workdir / "store", weights_path=weights, model=model_spec(get_entry(WEIGHTS_ENTRY)),
                      weights_name=name, untrained=args.weights is None)  # fmt: skip
        with start_torchserve(workdir / "store", [MODEL], workdir / "ts", log_file=workdir / "ts.log") as torchserve:
            torchserve.wait_until_ready()
            env = {"PROBE_MODELS": MODEL}
            with start_service(torchserve.inference_url, env=env, log_file=workdir / "service.log") as service:
                body, headers = oip_body(image)
                loads = {
                    "/v2 (closed loop)": (f"{service.url}/v2/models/{MODEL}/infer", body, headers),
                    "/predictions (closed loop)": (f"{torchserve.inference_url}/predictions/{MODEL}", image, None),
                }
                for url, content, extra in loads.values():  # warm-up
                    drive(pool, 1, url, content, 1, 2, extra)
                for concurrency in args.concurrency:
                    count = args.requests * concurrency
                    runs: dict[str, list[tuple[float, list[float]]]] = {label: [] for label in loads}
                    # Closed loops before and after perf_analyzer, in mirrored order (A B, perf_analyzer, B A), so
                    # that a change of the machine's load during the run weighs on both alike.
                    for label in reversed(loads):
                        runs[label].append(drive(pool, 1, *loads[label][:2], concurrency, count, loads[label][2]))
                    print(f"=== perf_analyzer, /v2, concurrency {concurrency}", flush=True)
                    report = perf_analyzer_load(service.url, image, workdir, concurrency, count)
                    rows.append(("/v2 (perf_analyzer)", concurrency, float(report["Inferences/Second"]),
                                 float(report["p50 latency"]) / 1e6, float(report["p99 latency"]) / 1e6))  # fmt: skip
                    for label in loads:
                        runs[label].append(drive(pool, 1, *loads[label][:2], concurrency, count, loads[label][2]))
                    for label, measured in runs.items():
                        latencies = [latency for _, run in measured for latency in run]
                        p99 = statistics.quantiles(latencies, n=100)[98]
                        throughput = statistics.mean(t for t, _ in measured)
                        rows.append((label, concurrency, throughput, statistics.median(latencies), p99))
    print(f"\n{MODEL}, {'random' if args.weights is None else 'given'} weights, one JPEG per request, "
          f"{os.cpu_count()} cores shared with other work: read the ratios, not the times")  # fmt: skip
    print(f"{'endpoint':28s} {'conc.':>5s} {'req/s':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'/ baseline':>10s}")
    baselines = {c: t for label, c, t, _, _ in rows if label.startswith("/predictions")}
    for label, concurrency, throughput, p50, p99 in rows:
        print(f"{label:28s} {concurrency:5d} {throughput:7.2f} {p50 * 1000:8.0f} {p99 * 1000:8.0f} "
              f"{throughput / baselines[concurrency]:10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
