"""The one client of the handler contract (`antialiased.serving.contract`) over httpx, torch-free: the request a
prediction sends, the retry policy, the answer read back, and every failure as an `ApiError`.

`AsyncHandlerClient` (asyncio) sends, tries again and reads; `HandlerClient` (blocking) runs it on an event loop of
its own, so both have one behaviour. The probe service, the launcher's readiness check and the evaluation's endpoint
engine use them and keep only what is theirs (metrics, how a failure is reported). An answer is read as it streams
in, never more than the request can need (`antialiased.serving.handler_answers.answer_limit`), and checked against the
contract and the request before it is returned; the timeout is a deadline for the whole call, tries and waits
included, not a limit on each read (a server sending one byte a second is cut off at the deadline).
What is tried again, and when: `antialiased.serving.handler_retries`.

Shift requests beyond `ClientOptions.max_view_pixels_per_request` are sent as their chunks, one after another (each
may wait for a `Turn`: the probe service's fair scheduler), and answered as one (`ShiftClassification.join`), so that
a plain classification waits behind one chunk, not a whole probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import numpy as np

from antialiased.serving.contract import (
    IMAGE_FIELD,
    LABELS_FIELD,
    MAX_PROBABILITY_VIEWS,
    PROBABILITIES_FIELD,
    SHIFTS_FIELD,
    TOPK_FIELD,
    Classification,
    ClassName,
    ShiftClassification,
    synthetic_marks,
)
from antialiased.serving.handler_answers import (
    BrokenAnswer,
    answer_limit,
    checked_classification,
    checked_labels,
    checked_shifts,
    read_answer,
)
from antialiased.serving.handler_retries import NO_RETRIES, RetryHook, RetryPolicy, Tries
from antialiased.serving.worker_restarts import WorkerRestarted, WorkerRestarts
from antialiased.shifts import MAX_VIEW_PIXELS_PER_REQUEST, ShiftRequest

Result = TypeVar("Result")
ANSWER_BYTES = answer_limit()  # the most a plain answer can take (every class's probability, the largest top-k)
Headers = Callable[[], Mapping[str, str]]  # read at every try: a key file's key may be renewed in between
# Held while one chunk of a shift request is sent and answered: waits for that chunk's turn (see service.scheduler).
Turn = Callable[[ShiftRequest], AbstractAsyncContextManager[object]]
__all__ = ["NO_RETRIES", "AsyncHandlerClient", "ClientOptions", "HandlerClient", "Headers", "RetryPolicy", "Turn",
           "prediction_request", "read_answer"]  # fmt: skip


def prediction_request(
    image: bytes,
    *,
    topk: int | None = None,
    probabilities: bool = False,
    labels: bool = False,
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
    if labels:
        data[LABELS_FIELD] = "true"
    if shifts is not None:
        data[SHIFTS_FIELD] = json.dumps(shifts.to_json())
    headers, params = synthetic_marks(purpose) if purpose else ({}, {})
    files = {IMAGE_FIELD: ("image", image, "application/octet-stream")}
    return {"files": files, "data": data, "params": params, "headers": headers}


@dataclass(frozen=True)
class ClientOptions:
    """Where TorchServe's inference API is and how to call it."""

    url: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
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
        headers = {**(self.headers() if self.headers else {}), "Accept-Encoding": "identity", **request["headers"]}
        return {**request, "headers": headers, "timeout": tries.timeout(self.connect_timeout_s)}


class AsyncHandlerClient:
    """Predictions from our handler on TorchServe, for asyncio (one pooled connection set; aclose() when done); with
    `restarts`, a request waiting on a model whose worker restarts is sent again."""

    def __init__(self, options: ClientOptions, restarts: WorkerRestarts | None = None) -> None:
        self.options = options
        self._client = httpx.AsyncClient(**options.httpx_options())
        self._restarts = restarts

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(
        self, model: str, request: dict[str, Any], timeout_s: float | None = None, max_bytes: int = ANSWER_BYTES
    ) -> httpx.Response:
        """The answer worth keeping to `request` (from `prediction_request`), after the retries the policy allows,
        read whole (BrokenAnswer past `max_bytes`)."""
        tries = self.options.tries(model, timeout_s)
        while True:
            response, error = None, None
            try:
                async with asyncio.timeout(tries.left()):
                    send = self._send(model, request, tries, max_bytes)
                    response = await (self._restarts.unless_restarted(model, send) if self._restarts else send)
            except TimeoutError:  # the deadline of the whole call, whatever each read took
                error = httpx.ReadTimeout(f"no whole answer within {tries.timeout_s:g} s")
            except (httpx.HTTPError, WorkerRestarted) as caught:
                error = caught
            delay = tries.next_delay(response, error)
            if delay is None:
                return tries.outcome()
            await asyncio.sleep(delay)

    async def _send(self, model: str, request: dict[str, Any], tries: Tries, max_bytes: int) -> httpx.Response:
        """One try: the answer read as it arrives, refused past `max_bytes` or when sent compressed."""
        sent = self._client.build_request("POST", f"/predictions/{model}", **self.options.send_options(request, tries))
        response = await self._client.send(sent, stream=True)
        try:
            if response.headers.get("content-encoding", "identity") != "identity":  # never inflated
                raise BrokenAnswer(model, f"sent as {response.headers['content-encoding']}, which was not asked for")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > max_bytes:
                    raise BrokenAnswer(model, f"more than {max_bytes} bytes, more than the request can need")
        finally:
            await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body), request=sent)

    async def classify(
        self, model: str, image: bytes, *, topk: int, timeout_s: float | None = None, purpose: str | None = None
    ) -> Classification:
        """The handler's top-k of the center crop of `image`."""
        request = prediction_request(image, topk=topk, purpose=purpose)
        response = await self.post(model, request, timeout_s, answer_limit(topk, probabilities=False))
        return checked_classification(model, read_answer(model, response, Classification), topk, probabilities=False)

    async def classify_every_class(self, model: str, image: bytes, topk: int = 1) -> Classification:
        """The handler's answer for the center crop of `image`: its top-k and every class's probability."""
        request = prediction_request(image, topk=topk, probabilities=True)
        response = await self.post(model, request, max_bytes=answer_limit(topk, probabilities=True))
        return checked_classification(model, read_answer(model, response, Classification), topk, probabilities=True)

    async def classify_shifts(
        self,
        model: str,
        image: bytes,
        shifts: ShiftRequest,
        *,
        topk: int,
        probabilities: bool = False,
        turn: Turn | None = None,
    ) -> ShiftClassification:
        """The handler's top-k of every shifted view of `image` that `shifts` asks for (and with `probabilities`
        every class's probability at each, for at most MAX_PROBABILITY_VIEWS views). Beyond
        `max_view_pixels_per_request` it goes in chunks of at most MAX_PROBABILITY_VIEWS views, one after another,
        each in its `turn`: each chunk asks every class's probability at its views, from which the whole request's
        class curves are joined."""
        chunks = shifts.chunks(self.options.max_view_pixels_per_request, MAX_PROBABILITY_VIEWS)
        every_class = probabilities or len(chunks) > 1
        answers, rows = [], []
        for chunk in chunks:
            request = prediction_request(image, topk=topk, shifts=chunk, probabilities=every_class)
            limit = answer_limit(topk, probabilities=every_class, shifts=chunk)
            async with turn(chunk) if turn is not None else contextlib.nullcontext():
                response = await self.post(model, request, max_bytes=limit)
            answer = checked_shifts(model, read_answer(model, response, ShiftClassification), chunk, topk, every_class)
            if len(chunks) > 1:  # float32: the handler's values exactly, a seventh of the memory of Python floats
                rows.append(np.asarray(answer.probabilities, np.float32))
                answer = answer.model_copy(update={"probabilities": None})
            answers.append(answer)
        if len(chunks) == 1:
            return answers[0]
        every_view = np.concatenate(rows)
        joined = ShiftClassification.join(answers, every_view)
        return joined.model_copy(update={"probabilities": every_view.tolist()}) if probabilities else joined

    async def label_set(self, model: str, image: bytes, timeout_s: float | None = None) -> list[ClassName]:
        """The served model's label set, asked with a synthetic prediction of `image` (purpose `labels`)."""
        request = prediction_request(image, topk=1, labels=True, purpose="labels")
        response = await self.post(model, request, timeout_s, answer_limit(1, probabilities=False, labels=True))
        answer = checked_classification(model, read_answer(model, response, Classification), 1, probabilities=False)
        return checked_labels(model, answer)


class HandlerClient:
    """Predictions from our handler on TorchServe, blocking: `AsyncHandlerClient` run on an event loop of its own,
    in a thread (a context manager; close() when done). Threads may share one client: their calls run together."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="handler-client", daemon=True)
        self._thread.start()
        self._client = AsyncHandlerClient(options)

    def _run(self, call: Coroutine[Any, Any, Result]) -> Result:
        return asyncio.run_coroutine_threadsafe(call, self._loop).result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._client.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> HandlerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def post(
        self, model: str, request: dict[str, Any], timeout_s: float | None = None, max_bytes: int = ANSWER_BYTES
    ) -> httpx.Response:
        """See `AsyncHandlerClient.post`."""
        return self._run(self._client.post(model, request, timeout_s, max_bytes))

    def classify_shifts(
        self, model: str, image: bytes, shifts: ShiftRequest, *, topk: int, probabilities: bool = False
    ) -> ShiftClassification:
        """See `AsyncHandlerClient.classify_shifts`."""
        return self._run(self._client.classify_shifts(model, image, shifts, topk=topk, probabilities=probabilities))

    def classify_every_class(self, model: str, image: bytes, topk: int = 1) -> Classification:
        """See `AsyncHandlerClient.classify_every_class`."""
        return self._run(self._client.classify_every_class(model, image, topk))

    def label_set(self, model: str, image: bytes) -> list[ClassName]:
        """See `AsyncHandlerClient.label_set`."""
        return self._run(self._client.label_set(model, image))
