"""The one client of the handler contract (`antialiased.serving.contract`) over httpx, torch-free: the request a
prediction sends, the retry policy, the answer read back, and every failure as an `ApiError`.

`HandlerClient` (blocking) and `AsyncHandlerClient` (asyncio) differ only in how they send and wait; what to send,
whether to try again and how to read the answer are shared (`prediction_request`, `Tries`, `read_answer`). The probe
service, the launcher's readiness check and the evaluation's endpoint engine use them and keep only what is theirs
(metrics, how a failure is reported).

Shift requests beyond `ClientOptions.max_view_pixels_per_request` are sent as their chunks, one after another (the
asyncio client lets each chunk wait for a `Turn`: the probe service's fair scheduler), and answered as one
(`joined`), so that a plain classification waits behind one chunk, not a whole probe.

Retries: a refused connection, TorchServe's 503 (queue full, no worker yet, our handler's overloaded batch) and
507 (the worker died holding the request: predictions are idempotent, so a retry is safe) are tried again after a
random delay up to a doubling backoff (full jitter, so retrying clients spread out), at least the answer's
Retry-After, never past the deadline. A key refused because TorchServe renewed it under the request is read again
and sent once more at once; so is a request waiting on a model whose worker restarted (`WorkerRestarts`: TorchServe
may never answer it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import numpy as np
from pydantic import BaseModel, ValidationError

from antialiased.errors import ApiError, ErrorCode
from antialiased.labels import NUM_CLASSES
from antialiased.serving.contract import (
    IMAGE_FIELD,
    PROBABILITIES_FIELD,
    SHIFTS_FIELD,
    TOPK_FIELD,
    Classification,
    ErrorBody,
    ShiftClassification,
    synthetic_marks,
)
from antialiased.serving.torchserve_keys import KEY_RETRY_DELAY_S, key_refused
from antialiased.serving.worker_restarts import WorkerRestarted, WorkerRestarts
from antialiased.shifts import MAX_VIEW_PIXELS_PER_REQUEST, ShiftRequest

RETRY_STATUSES = (503, 507)
Answer = TypeVar("Answer", bound=BaseModel)
Headers = Callable[[], Mapping[str, str]]  # read at every try: a key file's key may be renewed in between
# (model, reason: "503", "507", "unreachable", "key", "restarted") before each retry
RetryHook = Callable[[str, str], None]
# Held while one chunk of a shift request is sent and answered: waits for that chunk's turn (see service.scheduler).
Turn = Callable[[ShiftRequest], AbstractAsyncContextManager[object]]


def prediction_request(
    image: bytes,
    *,
    topk: int | None = None,
    probabilities: bool = False,
    shifts: ShiftRequest | None = None,
    purpose: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """httpx's keyword arguments (files, data, params, headers) of `POST /predictions/<model>` for `image`; `purpose`
    marks a synthetic prediction, form `fields` are sent as they are (tests send malformed ones)."""
    data = dict(fields or {})
    if topk is not None:
        data[TOPK_FIELD] = str(topk)
    if probabilities:
        data[PROBABILITIES_FIELD] = "true"
    if shifts is not None:
        data[SHIFTS_FIELD] = json.dumps(shifts.to_json())
    headers, params = synthetic_marks(purpose) if purpose else ({}, {})
    files = {IMAGE_FIELD: ("image", image, "application/octet-stream")}
    return {"files": files, "data": data, "params": params, "headers": headers}


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

    def timeout(self, connect_s: float) -> httpx.Timeout:
        """The time left for the next try."""
        left = max(self.deadline - time.monotonic(), 0.001)
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


def read_answer(model: str, response: httpx.Response, kind: type[Answer]) -> Answer:
    """The answer as `kind`; ApiError when it is a refusal or a failure (see `answer_error`) or not a `kind`."""
    if response.status_code != 200:
        raise answer_error(model, response)
    try:
        return kind.model_validate_json(response.content)
    except ValidationError as error:
        message = f"{model}: unexpected answer from TorchServe ({error.error_count()} problems)"
        raise ApiError(ErrorCode.TORCHSERVE_ERROR, message, 502) from error


def answer_error(model: str, response: httpx.Response) -> ApiError:
    """The ApiError of an answer that is not a 200: our handler's refusal as it is (code, message, Retry-After),
    TorchServe's own failures as the probe codes (overloaded, torchserve_timeout, image_too_large, torchserve_error)."""
    status = response.status_code
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        body = None
    if body is not None:
        headers = {"Retry-After": response.headers["retry-after"]} if "retry-after" in response.headers else {}
        return ApiError(body.code, body.message, status, headers=headers)
    message = _torchserve_message(response)
    if status in RETRY_STATUSES:
        return ApiError(
            ErrorCode.OVERLOADED,
            f"TorchServe cannot take the request for {model} now (its queue is full, or no worker is up); "
            f"it answered {status}: {message}",
            503,
            headers={"Retry-After": "1"},
        )
    if status in (408, 504):
        return ApiError(ErrorCode.TORCHSERVE_TIMEOUT, f"TorchServe timed out: {message}", 504)
    if status == 413:
        return ApiError(ErrorCode.IMAGE_TOO_LARGE, f"TorchServe refused the request size: {message}", 413)
    return ApiError(ErrorCode.TORCHSERVE_ERROR, f"TorchServe answered {status} for {model}: {message}", 502)


def _torchserve_message(response: httpx.Response) -> str:
    """TorchServe's own error bodies are {"code": <number>, "type": ..., "message": ...}."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or response.text[:200] or response.reason_phrase)


def every_class(model: str, answer: Classification) -> Classification:
    """`answer`, checked to hold one probability per class; ApiError torchserve_error if not."""
    if answer.probabilities is None or len(answer.probabilities) != NUM_CLASSES:
        message = f"{model}: the answer does not hold one probability per class ({NUM_CLASSES})"
        raise ApiError(ErrorCode.TORCHSERVE_ERROR, message, 502)
    return answer


def matching(model: str, answer: ShiftClassification, shifts: ShiftRequest) -> ShiftClassification:
    """`answer`, checked to answer `shifts`; ApiError torchserve_error if not."""
    if not answer.matches(shifts):
        raise ApiError(ErrorCode.TORCHSERVE_ERROR, f"{model}: the shift answer does not match", 502)
    return answer


Chunk = tuple[ShiftClassification, np.ndarray | None]  # an answer to a chunk, its rows of probabilities held apart


def chunk_answer(model: str, response: httpx.Response, chunk: ShiftRequest) -> Chunk:
    """The answer to `chunk`, checked, and every class's probability at its views as float32 (a seventh of the memory
    of Python floats, the handler's values exactly) when it holds them; ApiError torchserve_error when they are not
    one row of every class per view."""
    answer = matching(model, read_answer(model, response, ShiftClassification), chunk)
    if answer.probabilities is None:
        return answer, None
    if any(len(row) != NUM_CLASSES for row in answer.probabilities):
        raise _without_every_class(model)
    return answer.model_copy(update={"probabilities": None}), np.asarray(answer.probabilities, np.float32)


def _without_every_class(model: str) -> ApiError:
    message = f"{model}: a chunk's answer does not hold one probability per class ({NUM_CLASSES}) at each view"
    return ApiError(ErrorCode.TORCHSERVE_ERROR, message, 502)


def joined(model: str, chunks: list[Chunk]) -> ShiftClassification:
    """The answer to a whole shift request from those to its chunks, each asked with every class's probability (see
    `ShiftClassification.join`); ApiError torchserve_error when one lacks them."""
    if len(chunks) == 1:
        return chunks[0][0]
    if any(rows is None for _, rows in chunks):
        raise _without_every_class(model)
    return ShiftClassification.join([answer for answer, _ in chunks], np.concatenate([rows for _, rows in chunks]))


@dataclass(frozen=True)
class ClientOptions:
    """Where TorchServe's inference API is and how to call it."""

    url: str
    policy: RetryPolicy = RetryPolicy()
    timeout_s: float = 120.0
    connect_timeout_s: float = 2.0
    max_connections: int = 32
    headers: Headers | None = None  # e.g. the bearer key, read at every try
    on_retry: RetryHook | None = None
    # A shift request beyond it goes in chunks (ShiftRequest.chunks); None: one request, whatever its size.
    max_view_pixels_per_request: int | None = MAX_VIEW_PIXELS_PER_REQUEST

    def httpx_options(self) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
        timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        return {"base_url": self.url.rstrip("/"), "timeout": timeout, "limits": limits}

    def tries(self, model: str, timeout_s: float | None) -> Tries:
        return Tries(model, self.policy, timeout_s or self.timeout_s, self.on_retry)

    def send_options(self, request: dict[str, Any], tries: Tries) -> dict[str, Any]:
        """httpx's arguments of one try: the request, the headers read now, the time left."""
        headers = {**(self.headers() if self.headers else {}), **request["headers"]}
        return {**request, "headers": headers, "timeout": tries.timeout(self.connect_timeout_s)}


class HandlerClient:
    """Predictions from our handler on TorchServe, blocking (a context manager; close() when done)."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self._client = httpx.Client(**options.httpx_options())

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HandlerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def post(self, model: str, request: dict[str, Any], timeout_s: float | None = None) -> httpx.Response:
        """The answer worth keeping to `request` (from `prediction_request`), after the retries the policy allows."""
        tries = self.options.tries(model, timeout_s)
        while True:
            response, error = None, None
            try:
                response = self._client.post(f"/predictions/{model}", **self.options.send_options(request, tries))
            except httpx.HTTPError as caught:
                error = caught
            delay = tries.next_delay(response, error)
            if delay is None:
                return tries.outcome()
            time.sleep(delay)

    def classify_shifts(self, model: str, image: bytes, shifts: ShiftRequest, *, topk: int) -> ShiftClassification:
        """The handler's top-k of every shifted view of `image` that `shifts` asks for (in chunks, one after another,
        beyond `max_view_pixels_per_request`); ApiError on any failure."""
        chunks = shifts.chunks(self.options.max_view_pixels_per_request)
        answers = []
        for chunk in chunks:
            request = prediction_request(image, topk=topk, shifts=chunk, probabilities=len(chunks) > 1)
            answers.append(chunk_answer(model, self.post(model, request), chunk))
        return joined(model, answers)

    def classify_every_class(self, model: str, image: bytes, topk: int = 1) -> Classification:
        """The handler's answer for the center crop of `image`: its top-k and every class's probability."""
        response = self.post(model, prediction_request(image, topk=topk, probabilities=True))
        return every_class(model, read_answer(model, response, Classification))


class AsyncHandlerClient:
    """Predictions from our handler on TorchServe, for asyncio (one pooled connection set; aclose() when done); with
    `restarts`, a request waiting on a model whose worker restarts is sent again."""

    def __init__(self, options: ClientOptions, restarts: WorkerRestarts | None = None) -> None:
        self.options = options
        self._client = httpx.AsyncClient(**options.httpx_options())
        self._restarts = restarts

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, model: str, request: dict[str, Any], timeout_s: float | None = None) -> httpx.Response:
        """The answer worth keeping to `request` (from `prediction_request`), after the retries the policy allows."""
        tries = self.options.tries(model, timeout_s)
        while True:
            response, error = None, None
            try:
                send = self._client.post(f"/predictions/{model}", **self.options.send_options(request, tries))
                response = await (self._restarts.unless_restarted(model, send) if self._restarts else send)
            except (httpx.HTTPError, WorkerRestarted) as caught:
                error = caught
            delay = tries.next_delay(response, error)
            if delay is None:
                return tries.outcome()
            await asyncio.sleep(delay)

    async def classify(
        self, model: str, image: bytes, *, topk: int, timeout_s: float | None = None, purpose: str | None = None
    ) -> Classification:
        """The handler's top-k of the center crop of `image`."""
        response = await self.post(model, prediction_request(image, topk=topk, purpose=purpose), timeout_s)
        return read_answer(model, response, Classification)

    async def classify_every_class(self, model: str, image: bytes, topk: int = 1) -> Classification:
        """The handler's answer for the center crop of `image`: its top-k and every class's probability."""
        response = await self.post(model, prediction_request(image, topk=topk, probabilities=True))
        return every_class(model, read_answer(model, response, Classification))

    async def classify_shifts(
        self, model: str, image: bytes, shifts: ShiftRequest, *, topk: int, turn: Turn | None = None
    ) -> ShiftClassification:
        """The handler's top-k of every shifted view of `image` that `shifts` asks for (in chunks, one after another,
        each in its `turn`, beyond `max_view_pixels_per_request`)."""
        chunks = shifts.chunks(self.options.max_view_pixels_per_request)
        answers = []
        for chunk in chunks:
            request = prediction_request(image, topk=topk, shifts=chunk, probabilities=len(chunks) > 1)
            async with turn(chunk) if turn is not None else contextlib.nullcontext():
                response = await self.post(model, request)
            answers.append(chunk_answer(model, response, chunk))
        return joined(model, answers)
