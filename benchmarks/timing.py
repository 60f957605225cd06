"""Timing helpers shared by the benchmarks: median of repetitions after warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(
    fn: Callable[[], object], repeats: int = 10, warmup: int = 2, device: torch.device | None = None
) -> float:
    """Median wall time of `fn()` over `repeats` runs, after `warmup` untimed runs.

    On a CUDA `device` each run ends when the device has finished the work `fn` queued.
    """

    def run() -> None:
        fn()
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def describe_device(device: torch.device) -> str:
    """The device as benchmarks report it: 'cpu (N threads)' or 'cuda:0 (card name)'."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
