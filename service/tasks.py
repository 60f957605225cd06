"""Running a request's calls concurrently: all of them, or the first failure (the others are cancelled); and a
request's work cancelled when its client goes away or its deadline passes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from starlette.requests import Request

from antialiased.errors import ApiError, ErrorCode

Result = TypeVar("Result")


async def gather_or_fail(calls: Iterable[Awaitable[Result]]) -> list[Result]:
    """Every call's result, in order; when one raises ApiError, the others are cancelled and that error is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_run(call)) for call in calls]
    except BaseExceptionGroup as failures:
        errors = [error for error in failures.exceptions if isinstance(error, ApiError)]
        if errors:
            raise errors[0] from None
        raise
    return [task.result() for task in tasks]


async def _run(call: Awaitable[Result]) -> Result:
    return await call


async def while_client_waits(
    request: Request, work: Awaitable[Result], deadline: float | None, abandoned: Callable[[str], None]
) -> Result:
    """`work`'s result, unless the client closes its connection first or the loop's clock passes `deadline`: then
    the work is cancelled (what it had not sent yet is never sent), `abandoned` is told why ("client_gone" or
    "deadline"), and ApiError 499 client_closed_request or 504 torchserve_timeout is raised. Call it once the body
    is read: the client's disconnection is the only message left to receive."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        async with asyncio.timeout_at(deadline):
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        reason = "deadline"
    except asyncio.CancelledError:  # the request itself is cancelled (the server stops): so is its work
        task.cancel()
        raise
    else:
        reason = None if task.done() else "client_gone"
    finally:
        watcher.cancel()
    if reason is None:
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    abandoned(reason)
    if reason == "deadline":
        raise ApiError(
            ErrorCode.TORCHSERVE_TIMEOUT, "the probe did not finish within its deadline (PROBE_DEADLINE_S)", 504
        )
    raise ApiError(ErrorCode.CLIENT_CLOSED_REQUEST, "the client closed the connection before the answer", 499)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
