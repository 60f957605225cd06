"""The client of our handler on TorchServe (`POST /predictions/<model>`, see antialiased.contract): one pooled
httpx.AsyncClient, a deadline per call, retries with jittered exponential backoff, errors as ApiError."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from antialiased.contract import (
    IMAGE_FIELD,
    PROBABILITIES_FIELD,
    SHIFTS_FIELD,
    SYNTHETIC_PURPOSES,
    TOPK_FIELD,
    Classification,
    ErrorBody,
    ShiftClassification,
    ShiftRequest,
    synthetic_marks,
)
from antialiased.errors import ApiError, ErrorCode
from antialiased.labels import NUM_CLASSES
from servers.torchserve_config import KEY_RETRY_DELAY_S, api_headers, key_refused
from service.observability import ServiceMetrics
from service.settings import Settings

# TorchServe's answers worth another try: 503 (queue full, no worker yet, our handler's overloaded batch) and
# 507 (the worker died while holding the request: predictions are idempotent, so the retry is safe).
RETRY_STATUSES = (503, 507)

Answer = TypeVar("Answer", bound=BaseModel)
# Told the outcome of every prediction: (model, None) on success, (model, error) when TorchServe failed (5xx);
# a refused input (4xx) says nothing about TorchServe and is not reported.
Observer = Callable[[str, ApiError | None], None]


class TorchServeClient:
    """Predictions from our handler on TorchServe, for the probe and the readiness check."""

    def __init__(self, settings: Settings, metrics: ServiceMetrics, observer: Observer | None = None) -> None:
        self._settings = settings
        self._metrics = metrics
        self._observer = observer
        self._client = httpx.AsyncClient(
            base_url=settings.torchserve_url,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections
            ),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def classify(self, model: str, image: bytes, *, topk: int, timeout_s: float, purpose: str) -> Classification:
        """The handler's top-k of the center crop of `image` (`purpose` labels the latency metric)."""
        return await self._call(model, image, {TOPK_FIELD: str(topk)}, Classification, timeout_s, purpose)

    async def classify_every_class(self, model: str, image: bytes, *, purpose: str) -> Classification:
        """The handler's answer for the center crop of `image` with every class's probability (one per class)."""
        fields = {TOPK_FIELD: "1", PROBABILITIES_FIELD: "true"}
        answer = await self._call(model, image, fields, Classification, None, purpose)
        if answer.probabilities is None or len(answer.probabilities) != NUM_CLASSES:
            message = f"{model}: the answer does not hold one probability per class ({NUM_CLASSES})"
            raise self._error(model, 502, ErrorCode.TORCHSERVE_ERROR, message)
        return answer

    async def classify_shifts(
        self, model: str, image: bytes, shifts: ShiftRequest, *, topk: int
    ) -> ShiftClassification:
        """The handler's top-k of every shifted view of `image` that `shifts` asks for, checked against it."""
        fields = {TOPK_FIELD: str(topk), SHIFTS_FIELD: json.dumps(shifts.to_json())}
        answer = await self._call(model, image, fields, ShiftClassification, None, "probe")
        if not answer.matches(shifts):
            raise self._error(model, 502, ErrorCode.TORCHSERVE_ERROR, f"{model}: the shift answer does not match")
        return answer

    async def _call(
        self,
        model: str,
        image: bytes,
        fields: dict[str, str],
        kind: type[Answer],
        timeout_s: float | None,
        purpose: str,
    ) -> Answer:
        start = time.perf_counter()
        try:
            timeout_s = timeout_s or self._settings.timeout_s
            response = await self._post_with_retries(model, image, fields, timeout_s, purpose)
            if response.status_code != 200:
                raise self._answer_error(model, response)
            try:
                answer = kind.model_validate_json(response.content)
            except ValidationError as error:
                message = f"{model}: unexpected answer from TorchServe ({error.error_count()} problems)"
                raise self._error(model, 502, ErrorCode.TORCHSERVE_ERROR, message) from error
        except ApiError as error:
            if error.status >= 500 and self._observer is not None:
                self._observer(model, error)
            raise
        finally:
            self._metrics.torchserve_latency.labels(model, purpose).observe(time.perf_counter() - start)
        if self._observer is not None:
            self._observer(model, None)
        return answer

    async def _post_with_retries(
        self, model: str, image: bytes, fields: dict[str, str], timeout_s: float, purpose: str
    ) -> httpx.Response:
        """The first answer worth keeping; retries refused connections, 503 and 507 until `retries` or the deadline.
        A synthetic (readiness) prediction is marked as such (`antialiased.contract.synthetic_marks`).

        Each retry waits a random time up to a doubling backoff (full jitter, so retrying clients spread out),
        at least the answer's Retry-After, and never past the deadline.
        """
        deadline = time.monotonic() + timeout_s
        failure: str | None = None
        response: httpx.Response | None = None
        key_retried = False
        marks, parameters = synthetic_marks(purpose) if purpose in SYNTHETIC_PURPOSES else ({}, {})
        for attempt in range(self._settings.retries + 1):
            if attempt:
                delay = KEY_RETRY_DELAY_S if _key_refused(response) else self._retry_delay(attempt, response)
                if time.monotonic() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
            left = deadline - time.monotonic()
            try:
                response = await self._client.post(
                    f"/predictions/{model}",
                    files={IMAGE_FIELD: ("image", image, "application/octet-stream")},
                    data=fields,
                    params=parameters,
                    headers={**self._auth_headers(), **marks},
                    timeout=httpx.Timeout(left, connect=min(left, self._settings.connect_timeout_s)),
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                failure, response = f"TorchServe is not reachable: {error!r}", None
                self._metrics.torchserve_retries.labels(model, "unreachable").inc()
                continue
            except httpx.TimeoutException as error:
                message = f"TorchServe did not answer within {timeout_s:g} s: {error!r}"
                raise self._error(model, 504, ErrorCode.TORCHSERVE_TIMEOUT, message) from error
            except httpx.HTTPError as error:
                message = f"TorchServe request failed: {error!r}"
                raise self._error(model, 502, ErrorCode.TORCHSERVE_ERROR, message) from error
            if _key_refused(response) and not key_retried:
                key_retried = True
                self._metrics.torchserve_retries.labels(model, "key").inc()
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            self._metrics.torchserve_retries.labels(model, str(response.status_code)).inc()
        if response is not None:
            return response
        raise self._error(model, 503, ErrorCode.TORCHSERVE_UNAVAILABLE, failure or "TorchServe is not reachable")

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        settings = self._settings
        backoff = min(settings.retry_max_backoff_s, settings.retry_backoff_s * 2 ** (attempt - 1))
        retry_after = response.headers.get("retry-after", "") if response is not None else ""
        floor = min(float(retry_after), settings.retry_max_backoff_s) if retry_after.isdigit() else 0.0
        return max(floor, random.uniform(0, backoff))

    def _auth_headers(self) -> dict[str, str]:
        """The bearer key when TorchServe's token authorization is on (a fixed key, or read from its key file)."""
        if self._settings.torchserve_token is not None:
            return {"Authorization": f"Bearer {self._settings.torchserve_token.get_secret_value()}"}
        try:
            return api_headers(self._settings.torchserve_key_file)
        except (OSError, ValueError, KeyError, TypeError) as error:
            message = f"cannot read TorchServe's key file: {error}"
            raise ApiError(ErrorCode.TORCHSERVE_UNAVAILABLE, message, 503) from error

    def _answer_error(self, model: str, response: httpx.Response) -> ApiError:
        status = response.status_code
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            body = None
        if body is not None:  # our handler refused the request: pass its code, message and headers through
            headers = {"Retry-After": response.headers["retry-after"]} if "retry-after" in response.headers else {}
            return self._error(model, status, body.code, body.message, headers)
        message = _torchserve_message(response)
        if status in RETRY_STATUSES:
            return self._error(
                model,
                503,
                ErrorCode.OVERLOADED,
                f"TorchServe cannot take the request for {model} now (its queue is full, or no worker is up); "
                f"it answered {status}: {message}",
                {"Retry-After": "1"},
            )
        if status in (408, 504):
            return self._error(model, 504, ErrorCode.TORCHSERVE_TIMEOUT, f"TorchServe timed out: {message}")
        if status == 413:
            return self._error(model, 413, ErrorCode.IMAGE_TOO_LARGE, f"TorchServe refused the request size: {message}")
        return self._error(
            model, 502, ErrorCode.TORCHSERVE_ERROR, f"TorchServe answered {status} for {model}: {message}"
        )

    def _error(
        self, model: str, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None
    ) -> ApiError:
        self._metrics.torchserve_errors.labels(model, code).inc()
        return ApiError(code, message, status, headers=headers)


def _key_refused(response: httpx.Response | None) -> bool:
    return response is not None and key_refused(response.status_code, response.content)


def _torchserve_message(response: httpx.Response) -> str:
    """TorchServe's own error bodies are {"code": <number>, "type": ..., "message": ...}."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or response.text[:200] or response.reason_phrase)
