"""Timing helpers shared by the benchmarks: median of repetitions after warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _synchronised(fn: Callable[[], object], device: torch.device | None) -> Callable[[], float]:
    """`fn` as a call that returns its wall time, ending when a CUDA `device` has finished the work it queued."""

    def run() -> float:
        start = time.perf_counter()
        fn()
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return run


def median_seconds(
    fn: Callable[[], object], repeats: int = 10, warmup: int = 2, device: torch.device | None = None
) -> float:
    """Median wall time of `fn()` over `repeats` runs, after `warmup` untimed runs.

    On a CUDA `device` each run ends when the device has finished the work `fn` queued.
    """
    run = _synchronised(fn, device)
    for _ in range(warmup):
        run()
    return statistics.median(run() for _ in range(repeats))


def median_ratio(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    repeats: int = 10,
    warmup: int = 2,
    device: torch.device | None = None,
) -> float:
    """Median wall time of `fn_a()` over that of `fn_b()`, the two run in alternation (ABBA order), so that load
    that comes and goes on the machine weighs on both alike."""
    run_a, run_b = _synchronised(fn_a, device), _synchronised(fn_b, device)
    for _ in range(warmup):
        run_a(), run_b()
    times_a, times_b = [], []
    for index in range(repeats):
        for run, times in ((run_a, times_a), (run_b, times_b))[:: 1 if index % 2 == 0 else -1]:
            times.append(run())
    return statistics.median(times_a) / statistics.median(times_b)


def describe_device(device: torch.device) -> str:
    """The device as benchmarks report it: 'cpu (N threads)' or 'cuda:0 (card name)'."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
