"""The scheduler's turns, in one event loop (service.scheduler; the real stack's behaviour is in
tests/resilience/test_scheduling.py): small chunks share the room in flight, a large one is not passed by later small
ones, clients alternate, and a cancelled turn gives its room on."""

from __future__ import annotations

import asyncio

import pytest

from antialiased.shifts import ShiftRequest
from service.observability import ServiceMetrics
from service.scheduler import Scheduler

SIDE = 32
ROOM = 4 * SIDE**2  # four views of SIDE x SIDE in flight at once


def _chunk(views: int) -> ShiftRequest:
    return ShiftRequest(offsets=((0, 0),) * views, mode="circular", crop_size=SIDE, resize_size=SIDE)


def _scheduler() -> Scheduler:
    return Scheduler(
        ServiceMetrics(), view_pixels_in_flight=ROOM, view_pixels_per_client=10**9, view_pixels_queued=10**9,
        deadline_s=60,
    )  # fmt: skip


def test_turns_share_the_room_and_alternate_between_clients() -> None:
    async def scenario() -> list[str]:
        scheduler, order, release = _scheduler(), [], asyncio.Event()
        with scheduler.admit("a", {"m": 10 * SIDE**2}) as a, scheduler.admit("b", {"m": 10 * SIDE**2}) as b:

            async def send(ticket, name: str, views: int) -> None:
                async with ticket.turn("m")(_chunk(views)):
                    order.append(name)
                    await release.wait()

            tasks = [asyncio.create_task(send(a, "a1", 2)), asyncio.create_task(send(a, "a2", 2))]
            await asyncio.sleep(0)
            tasks += [asyncio.create_task(send(b, "b-large", 4)), asyncio.create_task(send(a, "a3", 1))]
            await asyncio.sleep(0.01)
            assert order == ["a1", "a2"], "two small chunks fill the room; the large one waits, the later small too"
            release.set()
            await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["a1", "a2", "b-large", "a3"], "b, served least, goes before a's third"


def test_a_cancelled_turn_gives_its_room_on() -> None:
    async def scenario() -> bool:
        scheduler = _scheduler()
        with scheduler.admit("a", {"m": 8 * SIDE**2}) as a, scheduler.admit("b", {"m": 4 * SIDE**2}) as b:
            hold = asyncio.Event()

            async def first() -> None:
                async with a.turn("m")(_chunk(4)):
                    await hold.wait()

            async def waiting() -> None:
                async with a.turn("m")(_chunk(4)):
                    pass

            async def other() -> None:
                async with b.turn("m")(_chunk(4)):
                    pass

            holder = asyncio.create_task(first())
            await asyncio.sleep(0)
            cancelled = asyncio.create_task(waiting())
            served = asyncio.create_task(other())
            await asyncio.sleep(0)
            cancelled.cancel()
            hold.set()
            await holder
            await asyncio.wait_for(served, 1)
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        return scheduler.models["m"].in_use == 0

    assert asyncio.run(scenario())
