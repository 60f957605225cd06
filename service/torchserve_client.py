"""The probe service's client of our handler on TorchServe: the library's `AsyncHandlerClient` (request, retries,
answer, errors as ApiError) with what is the service's own: its settings, the key file read at each try, the
Prometheus metrics (latency by purpose, retries and errors by reason) and the readiness monitor told the outcome of
every prediction."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import SecretStr

from antialiased.errors import ApiError
from antialiased.serving.contract import (
    Classification,
    ClassName,
    ShiftClassification,
    ShiftRequest,
    WeightsInfo,
)
from antialiased.serving.handler_client import AsyncHandlerClient, ClientOptions, RetryPolicy, Turn
from antialiased.serving.torchserve_keys import bearer_headers
from antialiased.serving.worker_restarts import WorkerRestarts
from service.observability import ServiceMetrics
from service.settings import Settings

Answer = TypeVar("Answer")
# Told the outcome of every prediction: (model, None, the weights its answer names) on success, (model, error, None)
# when TorchServe failed (5xx); a refused input (4xx) says nothing about TorchServe and is not reported.
Observer = Callable[[str, ApiError | None, WeightsInfo | None], None]


class TorchServeClient:
    """Predictions from our handler on TorchServe, for the probe, /v2 and the readiness check."""

    def __init__(
        self,
        settings: Settings,
        metrics: ServiceMetrics,
        observer: Observer | None = None,
        *,
        url: str | None = None,
        token: SecretStr | None = None,
        restarts: WorkerRestarts | None = None,
    ) -> None:
        """The client of the app's TorchServe (its URL, key or key file from `settings`), or of another one at `url`
        (with `token`, if it needs one); retries, timeouts and connections from `settings` either way; requests to a
        model whose worker `restarts` says restarted are sent again."""
        self._metrics = metrics
        self._observer = observer
        self._token = token if url else settings.torchserve_token
        self._key_file = None if url else settings.torchserve_key_file
        policy = RetryPolicy(settings.retries, settings.retry_backoff_s, settings.retry_max_backoff_s)
        self._client = AsyncHandlerClient(
            ClientOptions(
                url=url or settings.torchserve_url,
                policy=policy,
                timeout_s=settings.timeout_s,
                connect_timeout_s=settings.connect_timeout_s,
                max_connections=settings.max_connections,
                headers=self._auth_headers,
                on_retry=lambda model, reason: metrics.torchserve_retries.labels(model, reason).inc(),
                max_view_pixels_per_request=settings.chunk_view_pixels if settings.scheduling else None,
            ),
            restarts,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def classify(self, model: str, image: bytes, *, topk: int, timeout_s: float) -> Classification:
        """The handler's top-k of the center crop of `image`: the readiness monitor's synthetic prediction."""
        call = self._client.classify(model, image, topk=topk, timeout_s=timeout_s, purpose="readiness")
        return await self._observed(model, "readiness", call)

    async def classify_every_class(
        self, model: str, image: bytes, *, topk: int = 1, purpose: str = "oip"
    ) -> Classification:
        """The handler's answer for the center crop of `image`: its top-k and every class's probability (for /v2,
        and each frame of a sequence probe: `purpose` "sequence")."""
        return await self._observed(model, purpose, self._client.classify_every_class(model, image, topk))

    async def label_set(self, model: str, image: bytes, *, timeout_s: float) -> list[ClassName]:
        """The served model's label set (a synthetic prediction of `image`, purpose `labels`; not told to the
        observer: readiness rests on the predictions clients ask for and on its own)."""
        return await self._observed(model, "labels", self._client.label_set(model, image, timeout_s), observe=False)

    async def classify_shifts(
        self, model: str, image: bytes, shifts: ShiftRequest, *, topk: int, turn: Turn | None = None
    ) -> ShiftClassification:
        """The handler's top-k of every shifted view of `image` that `shifts` asks for, checked against it: in chunks
        of the `chunk_view_pixels` setting (while scheduling is on), each sent in its `turn`."""
        call = self._client.classify_shifts(model, image, shifts, topk=topk, turn=turn)
        return await self._observed(model, "probe", call)

    async def _observed(self, model: str, purpose: str, call: Awaitable[Answer], observe: bool = True) -> Answer:
        """`call`'s answer, timed by `purpose`; its failure counted and, when TorchServe's, told to the observer
        (with `observe`: the outcome either way)."""
        observer = self._observer if observe else None
        start = time.perf_counter()
        try:
            answer = await call
        except ApiError as error:
            self._metrics.torchserve_errors.labels(model, error.code).inc()
            if error.status >= 500 and observer is not None:
                observer(model, error, None)
            raise
        finally:
            self._metrics.torchserve_latency.labels(model, purpose).observe(time.perf_counter() - start)
        if observer is not None:
            observer(model, None, getattr(answer, "weights", None))  # a classification names its weights
        return answer

    def _auth_headers(self) -> dict[str, str]:
        """The bearer key when TorchServe's token authorization is on (a fixed key, or read from its key file)."""
        return bearer_headers(self._token.get_secret_value() if self._token else None, self._key_file)
