"""When the handler contract's client tries again: a refused connection, TorchServe's 503 (queue full, no worker
yet, our handler's overloaded batch) and 507 (the worker died holding the request: predictions are idempotent, so a
retry is safe) after a random delay up to a doubling backoff (full jitter, so retrying clients spread out), at least
the answer's Retry-After, never past the deadline; a key refused because TorchServe renewed it under the request, and
a request waiting on a model whose worker restarted, once more at once. Torch-free; `antialiased.serving.handler_client`
does the sending."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from antialiased.errors import ApiError, ErrorCode
from antialiased.serving.handler_answers import RETRY_STATUSES
from antialiased.serving.torchserve_keys import KEY_RETRY_DELAY_S, key_refused
from antialiased.serving.worker_restarts import WorkerRestarted

# (model, reason: "503", "507", "unreachable", "key", "restarted") before each retry
RetryHook = Callable[[str, str], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to try again; `retries=0` still sends a refused key once more."""

    retries: int = 6
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """The wait before try `attempt` (1, 2, ...): full jitter up to the doubling backoff, at least Retry-After."""
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        retry_after = response.headers.get("retry-after", "") if response is not None else ""
        floor = min(float(retry_after), self.max_backoff_s) if retry_after.isascii() and retry_after.isdigit() else 0
        return max(floor, random.uniform(0, backoff))


NO_RETRIES = RetryPolicy(retries=0)


@dataclass
class Tries:
    """The decisions of one call's retry loop, apart from the sending and the waiting."""

    model: str
    policy: RetryPolicy
    timeout_s: float
    on_retry: RetryHook | None = None
    deadline: float = field(init=False)
    attempt: int = 0
    key_retried: bool = False
    response: httpx.Response | None = None
    failure: str | None = None

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout_s

    def left(self) -> float:
        """Seconds left before the deadline of the whole call."""
        return max(self.deadline - time.monotonic(), 0.001)

    def timeout(self, connect_s: float) -> httpx.Timeout:
        """The time left for the next try."""
        left = self.left()
        return httpx.Timeout(left, connect=min(left, connect_s))

    def next_delay(
        self, response: httpx.Response | None, error: httpx.HTTPError | WorkerRestarted | None = None
    ) -> float | None:
        """Seconds to wait before trying again, or None when this try's outcome is the call's (see `outcome`)."""
        self.response = response
        if isinstance(error, WorkerRestarted):
            self.failure, reason = str(error), "restarted"
            self.attempt += 1
            return self._retry(reason, 0.0) if self.attempt <= self.policy.retries else None
        if error is not None:
            if not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
                raise _transport_error(self.model, error, self.timeout_s)
            self.failure, reason = f"TorchServe is not reachable: {error!r}", "unreachable"
        elif key_refused(response.status_code, response.content) and not self.key_retried:
            self.key_retried = True
            return self._retry("key", KEY_RETRY_DELAY_S)
        elif response.status_code not in RETRY_STATUSES:
            return None
        else:
            reason = str(response.status_code)
        self.attempt += 1
        if self.attempt > self.policy.retries:
            return None
        return self._retry(reason, self.policy.delay(self.attempt, response))

    def _retry(self, reason: str, delay: float) -> float | None:
        if time.monotonic() + delay >= self.deadline:
            return None
        if self.on_retry is not None:
            self.on_retry(self.model, reason)
        return delay

    def outcome(self) -> httpx.Response:
        """The last answer; ApiError torchserve_unavailable when no try got one."""
        if self.response is None:
            raise ApiError(ErrorCode.TORCHSERVE_UNAVAILABLE, self.failure or "TorchServe is not reachable", 503)
        return self.response


def _transport_error(model: str, error: httpx.HTTPError, timeout_s: float) -> ApiError:
    if isinstance(error, httpx.TimeoutException):
        message = f"TorchServe did not answer within {timeout_s:g} s: {error!r}"
        return ApiError(ErrorCode.TORCHSERVE_TIMEOUT, message, 504)
    return ApiError(ErrorCode.TORCHSERVE_ERROR, f"TorchServe request failed for {model}: {error!r}", 502)
