"""The deployed engine: the models a TorchServe serves, through the handler's shift requests.

One request per image and model with every crop view of the image (and one more with its circular views
when circular consistency is measured), at most `concurrency` in flight, a 503 or a refused connection
retried with doubling delays. On the same weights the answers are the local engine's, so the figures are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from antialiased.errors import ApiError
from antialiased.evaluate.engines import wire
from antialiased.evaluate.engines.base import ImageResult, WorkItem, unreadable
from antialiased.evaluate.files import read_image_file
from antialiased.evaluate.scoring import ViewScores, image_record

TOKEN_ENV = "ANTIALIASED_ENDPOINT_TOKEN"  # bearer key for a TorchServe with token authorization


class ImageRefused(Exception):
    """The endpoint refused this image (its 'code: message'): the image is reported unreadable, the run goes on."""


class EndpointError(RuntimeError):
    """The endpoint failed in a way that retrying does not fix; the run stops and can be resumed."""


class EndpointEngine:
    name = "endpoint"

    def __init__(self, models: list[str], options: Any) -> None:
        self.models = models
        self.options = options
        self.weights: dict[str, str | None] = {}
        token = os.environ.get(TOKEN_ENV)
        self.client = httpx.Client(
            base_url=options.url.rstrip("/"),
            timeout=httpx.Timeout(options.timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=options.concurrency),
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    def run(self, items: list[WorkItem]) -> Iterator[ImageResult]:
        pool = ThreadPoolExecutor(self.options.concurrency)
        try:
            yield from pool.map(self._evaluate, items)
        finally:  # on a failure, the requests not yet sent are dropped (the run resumes from its shards)
            pool.shutdown(cancel_futures=True)

    def _evaluate(self, item: WorkItem) -> ImageResult:
        try:
            image = read_image_file(item.path)
        except (OSError, ApiError) as error:
            return ImageResult(item.index, error=unreadable(error))
        records = {}
        try:
            for model in self.models:
                parts = [self._scores(model, image, request, item.label) for request in item.plan.requests()]
                records[model] = image_record(item.plan, ViewScores.join(parts), item.label)
        except ImageRefused as error:
            return ImageResult(item.index, error=str(error))
        return ImageResult(item.index, records)

    def _scores(self, model: str, image: bytes, request, label: int) -> ViewScores:
        response = self._post(model, image, request)
        if response.status_code != 200:
            refused = wire.refusal(response.content)
            if refused is not None and 400 <= response.status_code < 500 and not refused.startswith("bad_"):
                raise ImageRefused(refused)
            raise EndpointError(f"{model} answered {response.status_code}: {refused or response.text[:200]}")
        try:
            answer = wire.parse(response.content, request)
        except ValueError as error:
            raise EndpointError(f"{model} answered something that is not a shift answer: {error}") from None
        self.weights.setdefault(model, answer.weights.sha256)
        return wire.view_scores(answer, label)

    def _post(self, model: str, image: bytes, request) -> httpx.Response:
        """The first answer that is not a 503; EndpointError when every try was a 503 or a refused connection."""
        files, data = wire.request_parts(image, request)
        problem = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                time.sleep(self.options.backoff_s * 2 ** (attempt - 1))
            try:
                response = self.client.post(f"/predictions/{model}", files=files, data=data)
            except httpx.TransportError as error:
                problem = f"cannot reach {self.options.url}: {error!r}"
                continue
            if response.status_code != 503:
                return response
            problem = f"{model} is busy or not ready (503): {response.text[:200]}"
        raise EndpointError(f"{problem}, after {self.options.retries + 1} tries")
