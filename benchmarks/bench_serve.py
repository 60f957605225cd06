"""Served throughput and latency of the antialiased ResNet50 through TorchServe, against the model in-process.

In one run: a TorchServe it starts itself (random weights: speed does not depend on their values)
serves the model once per (workers, batch size) pair asked for, each as its own model, driven by
closed-loop clients sending a real JPEG photo at each concurrency asked for; the clients run in
`--clients` processes so that they keep up with a GPU. Right before each measurement, with TorchServe
idle, the same prepared model is timed in-process (forward pass only, at that batch size), so that both
see the same machine load. Prints images/s, p50/p99 latency, and the ratio served / in-process.
Usage: make bench-serve   (or: python -m benchmarks.bench_serve --batch 8 --requests 64)
       on a GPU: python -m benchmarks.bench_serve --device cuda --workers 1 2 --batch 32 128 \\
                 --concurrency 256 --requests 4096 --clients 8 [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import torch
from PIL import Image
from skimage import data

from antialiased.inference import PRECISIONS, prepare_for_inference, to_model_input
from antialiased.models import create_model
from antialiased.weights import save_checkpoint
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_spec
from benchmarks.timing import describe_device, median_seconds
from handlers.model import select_device
from launcher.torchserve import start_torchserve

MODEL = "resnet50_lpf4"
HEADER = (
    "workers",
    "batch",
    "concurrency",
    "images/s",
    "p50 ms",
    "p99 ms",
    "in-process images/s",
    "served / in-process",
)


def in_process_images_per_second(model: torch.nn.Module, batch: int, device: torch.device, repeats: int) -> float:
    """Images/s of the prepared model's forward pass on a (batch, 3, 224, 224) input."""
    x = to_model_input(torch.randn(batch, 3, 224, 224, device=device))

    def forward() -> None:
        with torch.inference_mode():
            model(x)

    return batch / median_seconds(forward, repeats=repeats, warmup=3, device=device)


async def _closed_loop(
    url: str, image: bytes, concurrency: int, requests: int, headers: dict[str, str] | None = None
) -> tuple[float, float, list[float]]:
    """`concurrency` clients send `requests` in all (a JPEG body unless `headers` say otherwise); return (start, end,
    latencies in s)."""
    latencies: list[float] = []
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def client_loop() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.post(url, content=image, headers=headers or {"Content-Type": "image/jpeg"})
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        return start, time.perf_counter(), latencies


def _client_process(
    url: str, image: bytes, concurrency: int, requests: int, headers: dict[str, str] | None
) -> tuple[float, float, list[float]]:
    return asyncio.run(_closed_loop(url, image, concurrency, requests, headers))


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def drive(
    pool: ProcessPoolExecutor,
    clients: int,
    url: str,
    image: bytes,
    concurrency: int,
    requests: int,
    headers: dict[str, str] | None = None,
):
    """Closed loop over `clients` processes; return (requests/s over all of them, latencies in s)."""
    processes = min(clients, concurrency)
    jobs = [
        pool.submit(_client_process, url, image, share, count, headers)
        for share, count in zip(_shares(concurrency, processes), _shares(requests, processes), strict=True)
    ]
    results = [job.result() for job in jobs]
    elapsed = max(end for _, end, _ in results) - min(start for start, _, _ in results)
    return requests / elapsed, [latency for _, _, latencies in results for latency in latencies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[8], help="TorchServe batchSize (and in-process)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="TorchServe workers of the model")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="requests in flight")
    parser.add_argument("--max-batch-delay", type=int, default=50, help="TorchServe maxBatchDelay (ms)")
    parser.add_argument("--requests", type=int, default=64, help="requests per measurement")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--repeats", type=int, default=10, help="in-process repetitions")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="bfloat16", help="autocast dtype on CUDA")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    # Spawned, not forked: the clients must not inherit this process's CUDA and thread state.
    pool = ProcessPoolExecutor(args.clients, mp_context=multiprocessing.get_context("spawn"))
    device = select_device(args.device, 0 if args.device != "cpu" else None)
    torch.manual_seed(0)
    network = create_model("resnet50", 4).eval()
    prepared = prepare_for_inference(network, device, autocast_dtype=PRECISIONS[args.precision])
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)  # a 512x512 photo
    image = buffer.getvalue()

    precision = args.precision if device.type == "cuda" else "float32"
    config = {"model": MODEL, "device": describe_device(device), "precision": precision, "torch": torch.__version__,
              "cores": os.cpu_count(), "requests": args.requests, "clients": args.clients,
              "max_batch_delay_ms": args.max_batch_delay, "payload": f"JPEG, {len(image)} bytes"}  # fmt: skip
    print(", ".join(f"{key} {value}" for key, value in config.items()))
    setups = list(itertools.product(args.workers, args.batch))
    names = {setup: f"{MODEL}-w{setup[0]}-b{setup[1]}" for setup in setups}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as workdir, pool:
        workdir = Path(workdir)
        weights = save_checkpoint(network, workdir / "weights", f"{MODEL}_random")
        for (workers, batch), name in names.items():
            overrides = {
                "minWorkers": workers,
                "maxWorkers": workers,
                "batchSize": batch,
                "maxBatchDelay": args.max_batch_delay,
                "handler": {"device": args.device, "precision": args.precision},
            }
            build_archive(name, store=workdir / "store", weights_path=weights,
                          model=model_spec(get_entry("resnet50_lpf4_finetune")), weights_name=None, untrained=True,
                          overrides=overrides)  # fmt: skip
        store, log = workdir / "store", workdir / "ts.out"
        with start_torchserve(store, list(names.values()), workdir / "ts", log_file=log) as server:
            server.wait_until_ready()
            print("  ".join(f"{name:>{max(len(name), 9)}}" for name in HEADER))
            for (workers, batch), name in names.items():
                url = f"{server.inference_url}/predictions/{name}"
                drive(pool, args.clients, url, image, workers * batch, 2 * workers * batch)  # warm-up
                for concurrency in args.concurrency:
                    in_process = in_process_images_per_second(prepared, batch, device, args.repeats)
                    throughput, latencies = drive(pool, args.clients, url, image, concurrency, args.requests)
                    p50 = statistics.median(latencies) * 1e3
                    p99 = statistics.quantiles(latencies, n=100)[98] * 1e3 if len(latencies) > 1 else p50
                    values = (workers, batch, concurrency, throughput, p50, p99, in_process, throughput / in_process)
                    rows.append(dict(zip(HEADER, values, strict=True)))
                    print("  ".join(f"{value:>{max(len(key), 9)}.{0 if isinstance(value, int) else 2}f}"
                                    for key, value in zip(HEADER, values, strict=True)))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"config": config, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
