"""Running a request's calls concurrently: all of them, or the first failure (the others are cancelled)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from antialiased.errors import ApiError

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
