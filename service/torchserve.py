"""The TorchServe client: one pooled httpx.AsyncClient, timeouts, retries with backoff, errors as ServiceError."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from antialiased.shifts import ShiftRequest
from service.errors import ServiceError
from service.observability import ServiceMetrics
from service.settings import Settings


class TorchServeClient:
    """Predictions from TorchServe's inference API (`POST /predictions/<model>`, see the handler contract)."""

    def __init__(self, settings: Settings, metrics: ServiceMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._client = httpx.AsyncClient(
            base_url=settings.torchserve_url,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections
            ),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def predict(
        self, model: str, image: bytes, *, topk: int, shifts: ShiftRequest | None = None, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """The handler's JSON answer for `image` (and its shifted views when `shifts` is given).

        Retries a 503 or a refused connection `retries` times with doubling delays. Raises ServiceError:
        503 TorchServe unreachable or busy, 504 no answer in time, the handler's own 4xx for bad input,
        502 for any other failure.
        """
        fields = {"topk": str(topk)}
        if shifts is not None:
            fields["shifts"] = json.dumps(shifts.to_json())
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else httpx.Timeout(timeout_s, connect=timeout_s)
        start = time.perf_counter()
        try:
            response = await self._post_with_retries(model, image, fields, timeout)
        finally:
            self._metrics.torchserve_latency.labels(model).observe(time.perf_counter() - start)
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError as error:
                raise self._error(model, 502, "torchserve_error", "TorchServe answered with invalid JSON") from error
        raise self._answer_error(model, response)

    async def _post_with_retries(
        self, model: str, image: bytes, fields: dict[str, str], timeout: Any
    ) -> httpx.Response:
        """The first answer other than 503, else the last 503; ServiceError when no answer came."""
        refused: httpx.HTTPError | None = None
        response: httpx.Response | None = None
        for attempt in range(self._settings.retries + 1):
            if attempt:
                await asyncio.sleep(self._settings.retry_backoff_s * 2 ** (attempt - 1))
            try:
                response = await self._client.post(
                    f"/predictions/{model}",
                    files={"data": ("image", image, "application/octet-stream")},
                    data=fields,
                    headers=self._auth_headers(),
                    timeout=timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                refused, response = error, None
                continue
            except httpx.TimeoutException as error:
                message = f"TorchServe did not answer in time: {error!r}"
                raise self._error(model, 504, "torchserve_timeout", message) from error
            except httpx.HTTPError as error:
                raise self._error(model, 502, "torchserve_error", f"TorchServe request failed: {error!r}") from error
            if response.status_code != 503:
                return response
        if response is not None:
            return response
        raise self._error(model, 503, "torchserve_unavailable", f"TorchServe is not reachable: {refused!r}")

    def _auth_headers(self) -> dict[str, str]:
        """The bearer key when TorchServe's token authorization is on (a fixed key, or read from its key file)."""
        if self._settings.torchserve_token is not None:
            return {"Authorization": f"Bearer {self._settings.torchserve_token.get_secret_value()}"}
        if self._settings.torchserve_key_file is not None:
            try:
                key = json.loads(self._settings.torchserve_key_file.read_text())["inference"]["key"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ServiceError(
                    503, "torchserve_unavailable", f"cannot read TorchServe's key file: {error}"
                ) from error
            return {"Authorization": f"Bearer {key}"}
        return {}

    def _answer_error(self, model: str, response: httpx.Response) -> ServiceError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or response.text[:200] or response.reason_phrase)
        status = response.status_code
        if 400 <= status < 500 and isinstance(body.get("code"), str):
            # The handler refused the input (the contract's {"code": "<reason>", "message"}): pass it through.
            return self._error(model, status, body["code"], message)
        # TorchServe's own errors carry a numeric code.
        if status == 503:
            return self._error(model, 503, "torchserve_unavailable", f"TorchServe is busy or not ready: {message}")
        if status in (408, 504):
            return self._error(model, 504, "torchserve_timeout", f"TorchServe timed out: {message}")
        if status == 413:
            return self._error(model, 413, "image_too_large", f"TorchServe refused the request size: {message}")
        return self._error(model, 502, "torchserve_error", f"TorchServe answered {status} for {model}: {message}")

    def _error(self, model: str, status: int, code: str, message: str) -> ServiceError:
        self._metrics.torchserve_errors.labels(model, code).inc()
        return ServiceError(status, code, message)
