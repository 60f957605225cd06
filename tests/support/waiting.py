"""Waiting for an event in another process or server: poll a condition until it holds, and fail loudly (naming what
was awaited, and why it cannot come any more) at the deadline or as soon as the process that should bring it ends."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout_s: float,
    what: str,
    *,
    process: subprocess.Popen | None = None,
    every_s: float = 0.02,
) -> T:
    """The first true value of `condition()`, polled every `every_s` seconds; AssertionError naming `what` when
    `timeout_s` pass first, or when `process` (the one that should bring it about) exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode} first{_stderr(process)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(every_s)


def _stderr(process: subprocess.Popen) -> str:
    if process.stderr is None or process.stderr.closed:
        return ""
    text = process.stderr.read()
    return f":\n{text.decode(errors='replace') if isinstance(text, bytes) else text}"
