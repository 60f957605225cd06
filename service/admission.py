"""A budget of some resource held by requests in flight (bytes of uploads, decoded pixels): a request reserves
what it will need before it starts (an upload its declared length, see service.params.read_body) and gives it all
back when done; when the budget, or its holder's share, has no room it waits a little, then gets a 503 with
Retry-After.

This bounds the service's memory by configuration, whatever clients send or how many send at once, and a request
that got its reservation always completes (were units taken as bytes arrive, several large uploads could each hold
part of the budget and none get the rest); the share per holder (a client address) keeps one client, however greedy,
from starving the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

from antialiased.errors import ApiError, overloaded


class Budget:
    """`capacity` units shared by the requests in flight, at most `share` of them (default: all) held by one holder
    (asyncio; one event loop)."""

    def __init__(self, capacity: int, wait_s: float, what: str, share: int | None = None) -> None:
        self.capacity = capacity
        self.share = min(share or capacity, capacity)
        self.wait_s = wait_s
        self.what = what
        self.in_use = 0
        self.waiting = 0  # requests waiting for room
        self.held: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def lease(self, holder: str = "") -> AsyncIterator[Lease]:
        """A lease for `holder` that takes units when the block asks (Lease.take) and returns them all at its end."""
        lease = Lease(self, holder)
        try:
            yield lease
        finally:
            async with self._changed:
                self.in_use -= lease.held
                self.held[holder] -= lease.held
                if self.held[holder] <= 0:
                    del self.held[holder]
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def hold(self, amount: int, holder: str = "") -> AsyncIterator[None]:
        """Hold `amount` units (at most the share) for the block."""
        async with self.lease(holder) as lease:
            await lease.take(amount)
            yield

    async def _take(self, lease: Lease, amount: int) -> int:
        amount = min(amount, self.share - lease.held)  # one lease never needs more than a share
        holder = lease.holder

        def fits() -> bool:
            return self.in_use + amount <= self.capacity and self.held[holder] + amount <= self.share

        async with self._changed:
            if not fits():
                self.waiting += 1
                try:
                    await asyncio.wait_for(self._changed.wait_for(fits), self.wait_s)
                except TimeoutError:
                    raise self._overloaded() from None
                finally:
                    self.waiting -= 1
            self.in_use += amount
            self.held[holder] += amount
        return amount

    def _overloaded(self) -> ApiError:
        share = f", {self.share} per client" if self.share < self.capacity else ""
        return overloaded(f"the service holds as many {self.what} as it may ({self.capacity}{share}); retry shortly")


class Lease:
    """The units one request holds in a Budget; they grow as it takes more."""

    def __init__(self, budget: Budget, holder: str) -> None:
        self.budget = budget
        self.holder = holder
        self.held = 0

    async def take(self, amount: int) -> None:
        """Take `amount` more units; ApiError 503 when they do not free up within the budget's wait."""
        self.held += await self.budget._take(self, amount)
