"""Readiness without blocking and without synthetic load: a background monitor keeps, per model, the outcome of its
latest predictions.

Real requests report their outcome (`observe`). Every `ready_interval_s` the monitor reads each model's worker
states from TorchServe's management API (when it is reachable: loopback deployments such as `make run`; a read
that costs the model nothing). It sends a synthetic prediction of its own (the readiness image, marked with
purpose `readiness` so metrics and logs tell it apart) only to a model that has not answered for `ready_idle_s`,
that has not answered yet, or whose latest outcome is a failure (so that it turns ready again without traffic);
never to a model none of whose workers is READY. /readyz answers at once from what the monitor saw: a model is
ready when a prediction succeeded within `Settings.ready_stale_after_s` (an idle model's synthetic prediction is
due long before), the latest outcome is not a failure (a timeout while a worker is READY is a busy model, not a
failing one), and, where the worker states are known, a worker is READY. A worker seen to restart (its pid gone)
is told to `restarts`, so that requests waiting on that model are sent again (TorchServe may drop them unanswered:
antialiased.serving.worker_restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from antialiased.errors import ApiError, ErrorCode
from antialiased.serving.contract import Prediction, WeightsInfo
from antialiased.serving.readiness import readiness_image
from antialiased.serving.torchserve_keys import api_headers
from antialiased.serving.worker_restarts import WorkerRestarts
from service.settings import Settings
from service.torchserve_client import TorchServeClient

log = logging.getLogger(__name__)
READY_WORKER = "READY"  # a worker's status in TorchServe's management API once its model is loaded


@dataclass
class ModelState:
    """What the monitor knows of one model (times from time.monotonic())."""

    last_ok: float | None = None
    last_failure: float | None = None
    problem: str | None = "not checked yet"
    workers: list[str] | None = None  # worker states from the management API, when reachable
    worker_pids: frozenset[int] = frozenset()  # the workers' processes at the last reading
    weights: WeightsInfo | None = None  # the weights served, from the first successful prediction (any)
    # From the monitor's last successful readiness prediction: its time and the top-1.
    ms: float | None = None
    top1: Prediction | None = None

    @property
    def failing(self) -> bool:
        return self.last_failure is not None and (self.last_ok is None or self.last_failure > self.last_ok)

    @property
    def workers_down(self) -> bool:
        """Whether the worker states are known and none is READY."""
        return self.workers is not None and READY_WORKER not in self.workers

    def ready(self, now: float, max_age_s: float) -> bool:
        fresh = self.last_ok is not None and now - self.last_ok <= max_age_s
        return fresh and not self.failing and not self.workers_down

    def needs_prediction(self, now: float, idle_s: float) -> bool:
        """Whether the monitor should send a synthetic prediction: never asked (it tells the weights served),
        failing, or idle for `idle_s`; and a worker may answer it."""
        if self.workers_down:
            return False
        return self.weights is None or self.last_ok is None or self.failing or now - self.last_ok >= idle_s

    def report(self, now: float, max_age_s: float) -> dict[str, Any]:
        age = None if self.last_ok is None else round(now - self.last_ok, 1)
        return {
            "ready": self.ready(now, max_age_s),
            "last_prediction_age_s": age,
            "problem": self.problem,
            "workers": self.workers,
            "ms": self.ms,
            "weights": self.weights.model_dump() if self.weights else None,
            "top1": self.top1.model_dump() if self.top1 else None,
        }


class ReadinessMonitor:
    """Keeps `ModelState`s fresh in the background; `observe` records the outcome of real predictions too."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.states = {model: ModelState() for model in settings.models}
        self.restarts = WorkerRestarts()
        self._task: asyncio.Task | None = None

    def observe(self, model: str, error: ApiError | None, weights: WeightsInfo | None) -> None:
        """Record a prediction's outcome: success (no error; the `weights` its answer says it was made with) or
        TorchServe's failure (a real request's or ours)."""
        state = self.states.get(model)
        if state is None:
            return
        now = time.monotonic()
        if error is None:
            state.last_ok, state.problem = now, None
            state.weights = weights or state.weights
            return
        state.problem = f"{error.code}: {error.message}"
        busy = (
            error.code == ErrorCode.TORCHSERVE_TIMEOUT and state.workers is not None and READY_WORKER in state.workers
        )
        if not busy:
            state.last_failure = now

    def report(self) -> tuple[str | None, dict[str, dict[str, Any]]]:
        """What keeps the service from being ready ("not ready: <models>"; None when ready), and each model's state."""
        now, max_age = time.monotonic(), self._settings.ready_stale_after_s
        models = {name: state.report(now, max_age) for name, state in self.states.items()}
        failing = [name for name, model in models.items() if not model["ready"]]
        return (f"not ready: {', '.join(failing)}" if failing else None), models

    def start(self, client: TorchServeClient) -> None:
        """Check in the background with `client` (whose observer should be `self.observe`)."""
        self._task = asyncio.create_task(self._run(client), name="readiness-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, client: TorchServeClient) -> None:
        async with httpx.AsyncClient(timeout=self._settings.ready_timeout_s) as management:
            while True:
                await asyncio.gather(*(self._check(model, client, management) for model in self.states))
                await asyncio.sleep(self._settings.ready_interval_s)

    async def _check(self, model: str, client: TorchServeClient, management: httpx.AsyncClient) -> None:
        state = self.states[model]
        if self._settings.torchserve_management_url:
            await self._read_workers(model, state, management)
        if not state.needs_prediction(time.monotonic(), self._settings.ready_idle_s):
            return
        log.info("readiness: a synthetic prediction for %s (%s)", model, state.problem or "idle")
        start = time.perf_counter()
        with contextlib.suppress(ApiError):  # the client reports the outcome to `observe`
            timeout_s = self._settings.ready_timeout_s
            answer = await client.classify(model, readiness_image(), topk=1, timeout_s=timeout_s)
            state.ms = round((time.perf_counter() - start) * 1000, 1)
            state.top1 = answer.topk[0]

    async def _read_workers(self, model: str, state: ModelState, management: httpx.AsyncClient) -> None:
        """The states of `model`'s workers; a worker gone since the last reading (it restarted) told to `restarts`."""
        workers = await self._workers(model, management)
        if workers is None:
            state.workers = None
            return
        state.workers = [status for status, _ in workers]
        pids = frozenset(pid for _, pid in workers if pid > 0)
        if state.worker_pids - pids:
            log.warning(
                "readiness: a worker of %s restarted (pids %s, then %s)", model, sorted(state.worker_pids), sorted(pids)
            )
            self.restarts.restarted(model)
        state.worker_pids = pids

    async def _workers(self, model: str, management: httpx.AsyncClient) -> list[tuple[str, int]] | None:
        """The state and pid of each of `model`'s workers from TorchServe's management API; None when it cannot be
        read (a worker still starting has no pid yet: -1)."""
        try:
            response = await management.get(
                f"{self._settings.torchserve_management_url}/models/{model}",
                headers=api_headers(self._settings.torchserve_key_file, "management"),
            )
            response.raise_for_status()
            workers = [worker for entry in response.json() for worker in entry.get("workers", [])]
            return [(worker["status"], int(worker.get("pid", -1))) for worker in workers]
        except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError) as error:
            log.warning("cannot read the workers of %s from the management API: %r", model, error)
            return None
