"""A budget of some resource held by requests in flight (bytes of uploads): a request takes its share before it
starts and gives it back when done; when the budget is spent it waits a little, then gets a 503 with Retry-After.

This bounds the service's memory by configuration, whatever clients send or how many send at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from antialiased.errors import ApiError, overloaded


class Budget:
    """`capacity` units shared by the requests in flight (asyncio; one event loop)."""

    def __init__(self, capacity: int, wait_s: float, what: str) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        self.what = what
        self.in_use = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, amount: int) -> AsyncIterator[None]:
        """Hold `amount` units (at most the capacity) for the block; raise ApiError 503 when they do not free up
        within `wait_s`."""
        amount = min(amount, self.capacity)
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.in_use + amount <= self.capacity), self.wait_s
                )
            except TimeoutError:
                raise self._overloaded() from None
            self.in_use += amount
        try:
            yield
        finally:
            async with self._changed:
                self.in_use -= amount
                self._changed.notify_all()

    def _overloaded(self) -> ApiError:
        return overloaded(f"the service holds as many {self.what} as it may ({self.capacity}); retry shortly")
