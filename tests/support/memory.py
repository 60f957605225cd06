"""Resident memory of another process while something runs, from the kernel's own high-water mark: the peak is reset
through /proc/PID/clear_refs before the block and read from VmHWM after it, so that a spike of any length counts
(sampling every few milliseconds missed the short ones: a false pass)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
RESET_PEAK = "5"  # clear_refs: reset the peak resident set size (VmHWM) to the current one (Linux >= 4.0)


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


def resident_bytes(pid: int) -> int:
    """The resident set size of process `pid` (VmRSS)."""
    return _status(pid, "VmRSS")


@dataclass
class Peak:
    """Resident bytes when the block began, and the most it reached while it ran (the kernel's VmHWM)."""

    baseline: int
    peak: int = 0


@contextlib.contextmanager
def peak_memory(pid: int) -> Iterator[Peak]:
    """The resident memory of process `pid` when the block begins and its peak while the block runs."""
    Path(f"/proc/{pid}/clear_refs").write_text(RESET_PEAK)
    memory = Peak(baseline=resident_bytes(pid))
    yield memory
    memory.peak = _status(pid, "VmHWM")
