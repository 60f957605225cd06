"""Resident memory of another process, sampled while something runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

MB = 1024 * 1024


def resident_bytes(pid: int) -> int:
    """The resident set size of process `pid` (VmRSS)."""
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115 - a /proc file, read at once
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class Samples:
    baseline: int
    peak: int = 0
    values: list[int] = field(default_factory=list)


@contextlib.contextmanager
def sampled(pid: int, every_s: float = 0.02) -> Iterator[Samples]:
    """Sample `pid`'s resident memory every `every_s` seconds while the block runs; `peak` is the largest."""
    samples = Samples(baseline=resident_bytes(pid))
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError, RuntimeError):
                samples.values.append(resident_bytes(pid))
            time.sleep(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.peak = max(samples.values, default=samples.baseline)
