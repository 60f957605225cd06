"""Served throughput and latency of the antialiased ResNet50 through TorchServe, against the model in-process.

In one run: a TorchServe it starts itself (random weights: speed does not depend on their values)
serves the model with batchSize `--batch`, driven by closed-loop clients at concurrency 1, 8 and 32
sending a real JPEG photo; right before each level, with TorchServe idle, the same prepared model is
timed in-process (forward pass only, batch `--batch`), so that both see the same machine load.
Prints images/s, p50/p99 latency, and the ratio served / in-process.
Usage: make bench-serve   (or: python -m benchmarks.bench_serve --batch 8 --requests 64)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import torch
from PIL import Image
from skimage import data

from antialiased.inference import prepare_for_inference, to_model_input
from antialiased.models import create_model
from antialiased.weights import save_checkpoint
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_spec
from benchmarks.timing import median_seconds
from handlers.model import select_device
from handlers.settings import PRECISIONS
from servers.torchserve import start_torchserve

MODEL = "resnet50_lpf4"
CONCURRENCY = (1, 8, 32)


def in_process_images_per_second(model: torch.nn.Module, batch: int, device: torch.device, repeats: int) -> float:
    """Images/s of the prepared model's forward pass on a (batch, 3, 224, 224) input."""
    x = to_model_input(torch.randn(batch, 3, 224, 224, device=device))

    def forward() -> None:
        with torch.inference_mode():
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return batch / median_seconds(forward, repeats=repeats, warmup=3)


async def drive(url: str, image: bytes, concurrency: int, requests: int) -> tuple[float, list[float]]:
    """Closed loop: `concurrency` clients send `requests` in all; return (images/s, latencies in s)."""
    latencies: list[float] = []
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def client_loop() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.post(url, content=image, headers={"Content-Type": "image/jpeg"})
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return requests / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="TorchServe batchSize and the in-process batch")
    parser.add_argument("--max-batch-delay", type=int, default=50, help="TorchServe maxBatchDelay (ms)")
    parser.add_argument("--requests", type=int, default=64, help="requests per concurrency level")
    parser.add_argument("--repeats", type=int, default=10, help="in-process repetitions")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="bfloat16", help="autocast dtype on CUDA")
    args = parser.parse_args()

    device = select_device(args.device, 0 if args.device != "cpu" else None)
    torch.manual_seed(0)
    network = create_model("resnet50", 4).eval()
    prepared = prepare_for_inference(network, device, autocast_dtype=PRECISIONS[args.precision])
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=90)  # a 512x512 photo
    image = buffer.getvalue()

    precision = args.precision if device.type == "cuda" else "float32"
    print(
        f"{MODEL}, batch {args.batch}, device {device}, precision {precision}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as workdir:
        workdir = Path(workdir)
        weights = save_checkpoint(network, workdir / "weights", f"{MODEL}_random")
        overrides = {
            "batchSize": args.batch,
            "maxBatchDelay": args.max_batch_delay,
            "handler": {"device": args.device, "precision": args.precision},
        }
        build_archive(
            MODEL,
            store=workdir / "store",
            weights_path=weights,
            model=model_spec(get_entry("resnet50_lpf4_finetune")),
            weights_name=None,
            untrained=True,
            overrides=overrides,
        )
        with start_torchserve(workdir / "store", [MODEL], workdir / "ts", log_file=workdir / "ts.out") as server:
            server.wait_until_ready()
            url = f"{server.inference_url}/predictions/{MODEL}"
            asyncio.run(drive(url, image, args.batch, 2 * args.batch))  # warm-up
            header = ("concurrency", "images/s", "p50 ms", "p99 ms", "in-process images/s", "served / in-process")
            print("  ".join(f"{name:>{max(len(name), 9)}}" for name in header))
            for concurrency in CONCURRENCY:
                in_process = in_process_images_per_second(prepared, args.batch, device, args.repeats)
                throughput, latencies = asyncio.run(drive(url, image, concurrency, args.requests))
                p50 = statistics.median(latencies) * 1e3
                p99 = statistics.quantiles(latencies, n=100)[98] * 1e3 if len(latencies) > 1 else p50
                row = (concurrency, throughput, p50, p99, in_process, throughput / in_process)
                print("  ".join(f"{value:>{max(len(name), 9)}.{0 if isinstance(value, int) else 2}f}"
                                for name, value in zip(header, row, strict=True)))  # fmt: skip


if __name__ == "__main__":
    main()
