"""The one start-up sequence of `make run` and the TorchServe container, after they built the archives
(`archives.build.build_from_args`): start TorchServe, renew its keys while it runs, wait until every model
answers a real prediction, run until TorchServe exits or a stop signal arrives, then stop everything."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from archives.build import BuiltArchive
from launcher.keys import KeyRenewal
from launcher.torchserve import TorchServe, start_torchserve


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt (a shell that starts us in the background ignores SIGINT)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def serving(
    store: Path, built: Sequence[BuiltArchive], workdir: Path, stop_timeout_s: float, **start: Any
) -> Iterator[TorchServe]:
    """TorchServe serving `built`, its keys renewed while it runs (with token authorization), ready (every model
    answered a real prediction); stopped on exit."""
    server = start_torchserve(store, [archive.name for archive in built], workdir, **start)
    try:
        with KeyRenewal(server):
            print("waiting until every model answers a real prediction ...", flush=True)
            server.wait_until_ready()
            yield server
    finally:
        print("stopping ...", flush=True)
        server.stop(stop_timeout_s)


def run_until_exit(server: TorchServe) -> int:
    """Wait until TorchServe exits (its exit status) or a stop signal arrives (0)."""
    try:
        while server.running():
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    print(f"error: TorchServe exited with status {server.process.returncode}", file=sys.stderr)
    return 1
