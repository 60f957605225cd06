"""Requests in flight when a worker restarts: TorchServe 0.12 drops some of them without an answer.

A worker that dies while it gathers a batch (waiting up to maxBatchDelay for more requests) has taken requests off
the model's queue; TorchServe's BatchAggregator clears them when the worker thread ends, and their clients wait for
their own timeout (minutes). Whoever watches the workers (the probe service's readiness monitor reads their pids)
says so with `restarted(model)`; a client waiting on an answer from that model then gives up that try and sends the
request again (predictions are idempotent: a copy still queued is answered to a closed connection, nothing else)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

Result = TypeVar("Result")


class WorkerRestarted(Exception):
    """A worker of the model restarted while the request waited: its answer may never come."""


class WorkerRestarts:
    """One asyncio event per model, set (and replaced by a fresh one) when a worker of the model restarts."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def restarted(self, model: str) -> None:
        """A worker of `model` restarted: every request now waiting on `model` is sent again."""
        event = self._events.pop(model, None)
        if event is not None:
            event.set()

    async def unless_restarted(self, model: str, call: Awaitable[Result]) -> Result:
        """`call`'s result; WorkerRestarted (and `call` cancelled) if a worker of `model` restarts first."""
        event = self._events.setdefault(model, asyncio.Event())
        answer, restart = asyncio.ensure_future(call), asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait((answer, restart), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (answer, restart):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if answer.cancelled():
            raise WorkerRestarted(f"a worker of {model} restarted while the request waited")
        return answer.result()
