"""Heavy work shared fairly: the probes' shift requests go to our handler in chunks (`ShiftRequest.chunks`), each
chunk in a turn that this scheduler gives.

- Admission, decided before anything is sent: a probe costs its view pixels (views x crop area, for each model it
  asks). A client address may have `view_pixels_per_client` of them not yet done, all clients together
  `view_pixels_queued`; beyond either the probe gets 503 with Retry-After (a probe that alone exceeds the per-client
  budget, 413). Once a model's throughput is measured (view pixels per second while it had chunks), a probe
  whose estimated time exceeds the deadline gets 503 with Retry-After too: its own work and, from every other client,
  as much work as its own (fair sharing serves each client alike until it is done), at that throughput.
- Turns: the chunks at a model at once hold at most `view_pixels_in_flight` view pixels (a chunk's worth by
  default), so TorchServe's queue stays free for light requests (a plain classification waits behind about one
  chunk), while small probes still go several at once and TorchServe batches them. When a turn ends, the next go to
  the waiting client that has been served the fewest view pixels (a client that starts probing begins level with
  the others), so probes of different clients alternate chunk by chunk and a small probe is not stuck behind a
  large one.
- A probe whose client has gone, or whose deadline has passed, is cancelled (service.routers.stability): its chunks not
  yet sent are never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field

from antialiased.errors import ApiError, ErrorCode, overloaded
from antialiased.serving.handler_client import Turn
from antialiased.shifts import ShiftRequest
from service.observability import ServiceMetrics

RATE_DECAY = 0.9  # at each chunk done, the weight left to the throughput measured before it


@dataclass
class _Model:
    """One model's turns: the view pixels its chunks in flight may hold and hold, the turns waiting by client (each
    with its cost), view pixels served per client, and the throughput measured (view pixels done over the seconds
    it had chunks in flight, older chunks weighing less)."""

    capacity: int
    in_use: int = 0
    waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    since: float = 0.0  # when `busy_s` was last brought up to date
    busy_s: float = 0.0
    done: float = 0.0

    @property
    def rate(self) -> float | None:
        """View pixels per second, once a chunk is done."""
        return self.done / self.busy_s if self.done and self.busy_s else None

    def count_busy(self, change: int) -> None:
        """Add the time since the last change while chunks were in flight; `change` their number."""
        now = time.monotonic()
        if self.in_flight:
            self.busy_s += now - self.since
        self.since = now
        self.in_flight += change


class Ticket:
    """An admitted probe of one client: its work not yet done per model, its deadline, its turns."""

    def __init__(self, scheduler: Scheduler, client: str, costs: Mapping[str, int], deadline: float) -> None:
        self.scheduler = scheduler
        self.client = client
        self.left = dict(costs)
        self.deadline = deadline

    def turn(self, model: str) -> Turn:
        """The turns of this probe's chunks for `model` (for AsyncHandlerClient.classify_shifts)."""
        return lambda chunk: self.scheduler.turn(self, model, chunk)


class Scheduler:
    """Admission and fair turns of the probes' chunks, per model (asyncio; one event loop)."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        *,
        view_pixels_in_flight: int,
        view_pixels_per_client: int,
        view_pixels_queued: int,
        deadline_s: float,
    ) -> None:
        self.metrics = metrics
        self.in_flight = view_pixels_in_flight
        self.per_client = view_pixels_per_client
        self.queued = view_pixels_queued
        self.deadline_s = deadline_s
        self.tickets: list[Ticket] = []
        self.models: dict[str, _Model] = {}

    @contextlib.contextmanager
    def admit(self, client: str, costs: Mapping[str, int]) -> Iterator[Ticket]:
        """A ticket for a probe of `client` costing `costs` (view pixels per model) for the block; ApiError (413, or
        503 with Retry-After) when it cannot be done within the budgets and the deadline."""
        self._check(client, costs)
        ticket = Ticket(self, client, costs, time.monotonic() + self.deadline_s)
        self.tickets.append(ticket)
        for model in costs:
            self._start(model, client)
        try:
            yield ticket
        finally:
            self.tickets.remove(ticket)
            for model in costs:
                self._forget(model, client)
            self._report()

    @contextlib.asynccontextmanager
    async def turn(self, ticket: Ticket, model: str, chunk: ShiftRequest) -> AsyncIterator[None]:
        """Wait until `chunk`'s view pixels fit at `model` in fair order, hold them while the block sends it, then
        let the next turns in."""
        state = self.models[model]
        cost = min(chunk.view_pixels, state.capacity)
        if not state.waiting and state.in_use + cost <= state.capacity:
            state.in_use += cost
        else:
            await self._wait(state, ticket.client, cost)
        state.count_busy(+1)
        done = False
        try:
            yield
            done = True
        finally:
            state.count_busy(-1)
            state.in_use -= cost
            state.served[ticket.client] = state.served.get(ticket.client, 0) + cost
            ticket.left[model] = max(0, ticket.left[model] - cost)
            if done:
                state.done = RATE_DECAY * state.done + cost
                state.busy_s *= RATE_DECAY
            self.metrics.chunks.labels(model).inc()
            self._let_in(state)

    async def _wait(self, state: _Model, client: str, cost: int) -> None:
        future = asyncio.get_running_loop().create_future()
        entry = (cost, future)
        state.waiting.setdefault(client, deque()).append(entry)
        self._report()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                state.in_use -= cost  # let in as it was cancelled: its room goes to the next
                self._let_in(state)
            else:
                state.waiting[client].remove(entry)
                if not state.waiting[client]:
                    del state.waiting[client]
                self._report()
            raise

    def _let_in(self, state: _Model) -> None:
        """Let waiting turns in while the next one fits: the next is the first of the waiting client served the fewest
        view pixels (the longest waiting among equals); no later turn passes it."""
        while state.waiting:
            client = min(state.waiting, key=lambda name: state.served.get(name, 0))
            queue = state.waiting[client]
            cost, future = queue[0]
            if state.in_use + cost > state.capacity:
                break
            queue.popleft()
            if not queue:
                del state.waiting[client]
            state.in_use += cost
            future.set_result(None)
        self._report()

    def _check(self, client: str, costs: Mapping[str, int]) -> None:
        cost = sum(costs.values())
        if cost > self.per_client:
            message = (
                f"the probe costs {cost} view pixels (views x crop area, for each model), more than one client may "
                f"have queued ({self.per_client}, PROBE_MAX_VIEW_PIXELS_PER_CLIENT): ask fewer offsets, models or a "
                "smaller crop_size"
            )
            raise ApiError(ErrorCode.TOO_MANY_PIXELS, message, 413)
        own = sum(sum(t.left.values()) for t in self.tickets if t.client == client)
        if own + cost > self.per_client:
            problem = (
                f"this client's probes not yet done hold {own} of the {self.per_client} view pixels one client may "
                "have queued (PROBE_MAX_VIEW_PIXELS_PER_CLIENT)"
            )
            self._refuse("client", problem, self._seconds(own + cost - self.per_client, costs))
        queued = sum(sum(t.left.values()) for t in self.tickets)
        if queued + cost > self.queued:
            problem = (
                f"the probes not yet done hold {queued} of the {self.queued} view pixels (PROBE_MAX_VIEW_PIXELS_QUEUED)"
            )
            self._refuse("queued", problem, self._seconds(queued + cost - self.queued, costs))
        for model, model_cost in costs.items():
            seconds = self._estimate(model, client, model_cost)
            if seconds is not None and seconds > self.deadline_s:
                problem = (
                    f"at {model}'s throughput this probe would take about {seconds:.0f} s behind the work queued, "
                    f"more than its deadline of {self.deadline_s:g} s (PROBE_DEADLINE_S)"
                )
                self._refuse("deadline", problem, seconds - self.deadline_s)

    def _estimate(self, model: str, client: str, cost: int) -> float | None:
        """Seconds until a probe of `cost` view pixels at `model` would be done under fair sharing: its client's work
        and as much from each other client (or all theirs, if less), at the measured throughput; None before any."""
        state = self.models.get(model)
        if state is None or state.rate is None:
            return None
        left: dict[str, int] = {}
        for ticket in self.tickets:
            left[ticket.client] = left.get(ticket.client, 0) + ticket.left.get(model, 0)
        own = left.pop(client, 0) + cost
        return (own + sum(min(other, own) for other in left.values())) / state.rate

    def _seconds(self, view_pixels: int, models: Mapping[str, int]) -> float:
        """About how long `models` take to do `view_pixels` at the slowest throughput measured (1 s before any)."""
        rates = [state.rate for model in models if (state := self.models.get(model)) and state.rate]
        return view_pixels / min(rates) if rates else 1.0

    def _refuse(self, reason: str, problem: str, wait_s: float) -> None:
        self.metrics.probes_refused.labels(reason).inc()
        raise overloaded(f"{problem}; retry later", max(1, math.ceil(wait_s)))

    def _start(self, model: str, client: str) -> None:
        """`client` begins probing `model`: it starts level with the clients already there (the fewest served)."""
        state = self.models.setdefault(model, _Model(capacity=self.in_flight))
        others = [served for name, served in state.served.items() if name != client]
        state.served.setdefault(client, min(others, default=0))

    def _forget(self, model: str, client: str) -> None:
        """Drop `client`'s count at `model` once it has no probe there."""
        if not any(t.client == client and model in t.left for t in self.tickets):
            self.models[model].served.pop(client, None)

    def _report(self) -> None:
        self.metrics.view_pixels_queued.set(sum(sum(t.left.values()) for t in self.tickets))
        self.metrics.turns_waiting.set(sum(len(q) for m in self.models.values() for q in m.waiting.values()))
