"""The deployed engine: the models a TorchServe serves, through the handler's shift requests.

One request per image and model with every crop view of the image (and one more with its circular views
when circular consistency is measured), at most `concurrency` in flight, through the handler contract's client
(`antialiased.serving.handler_client`: its retries of 503, 507 and refused connections). On the same weights the answers
are the local engine's, so the figures are.

A sequence (the sequence measure) is asked as the probe service's /v1/sequence asks our handler: one plain request
per frame (a frame file as it is; a video's frame, decoded here, as a lossless PNG), answering its top 5 and every
class's probability, so the majority class's probability is known at every frame; its record is the local engine's
(`scoring.sequence_record`, from the probabilities).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from antialiased.datasets import read_image_file, unreadable
from antialiased.errors import ApiError, ErrorCode
from antialiased.evaluate.config import EndpointOptions
from antialiased.evaluate.engines import wire
from antialiased.evaluate.engines.base import ImageResult, WorkItem, frame_error, sequence_frames
from antialiased.evaluate.scoring import ViewScores, image_record, sequence_record
from antialiased.metrics import TOP5
from antialiased.sequences.video import frame_png
from antialiased.serving.contract import MAX_TOPK
from antialiased.serving.handler_client import ClientOptions, HandlerClient, RetryPolicy
from antialiased.shifts import ShiftRequest

TOKEN_ENV = "ANTIALIASED_ENDPOINT_TOKEN"  # bearer key for a TorchServe with token authorization
MAX_BACKOFF_S = 30.0
Answer = TypeVar("Answer")


class ImageRefused(Exception):
    """The endpoint refused this image (its 'code: message'): the image is reported unreadable, the run goes on."""


class EndpointError(RuntimeError):
    """The endpoint failed in a way that retrying does not fix; the run stops and can be resumed."""


class EndpointEngine:
    def __init__(self, models: list[str], options: EndpointOptions) -> None:
        self.models = models
        self.options = options
        self.served_weights: dict[str, str | None] = {}
        token = os.environ.get(TOKEN_ENV)
        self._client_options = ClientOptions(
            url=options.url,
            policy=RetryPolicy(options.retries, options.backoff_s, max_backoff_s=MAX_BACKOFF_S),
            timeout_s=options.timeout_s,
            connect_timeout_s=10.0,
            max_connections=options.concurrency,
            headers=(lambda: {"Authorization": f"Bearer {token}"}) if token else None,
        )

    def run(self, items: list[WorkItem]) -> Iterator[ImageResult]:
        """The items' results; the endpoint's connections are closed when the run ends, however it ends."""
        with HandlerClient(self._client_options) as client:
            pool = ThreadPoolExecutor(self.options.concurrency)
            try:
                yield from pool.map(functools.partial(self._evaluate, client), items)
            finally:  # on a failure, the requests not yet sent are dropped (the run resumes from its shards)
                pool.shutdown(cancel_futures=True)

    def _evaluate(self, client: HandlerClient, item: WorkItem) -> ImageResult:
        if item.plan.sequence is not None:
            return self._sequence(client, item)
        try:
            image = read_image_file(item.path)
        except (OSError, ApiError) as error:
            return ImageResult(item.index, error=unreadable(error))
        records = {}
        try:
            for model in self.models:
                parts = [self._scores(client, model, image, request, item.label) for request in item.plan.requests()]
                records[model] = image_record(item.plan, ViewScores.join(parts), item.label)
        except ImageRefused as error:
            return ImageResult(item.index, error=str(error))
        return ImageResult(item.index, records)

    def _sequence(self, client: HandlerClient, item: WorkItem) -> ImageResult:
        frames, frame = [], "the video"  # a video's errors name their frame themselves
        try:
            for number, (name, pixels) in enumerate(sequence_frames(item)):
                frame = name if item.frames else frame
                frames.append((name, read_image_file(item.frames[number]) if item.frames else frame_png(pixels())))
        except (OSError, ApiError) as error:
            return ImageResult(item.index, error=frame_error(frame, unreadable(error)))
        records = {}
        for model in self.models:
            answers = []
            for name, frame_file in frames:
                try:
                    answers.append(
                        self._ask(model, functools.partial(client.classify_every_class, model, frame_file, TOP5))
                    )
                except ImageRefused as error:
                    return ImageResult(item.index, error=frame_error(name, str(error)))
            self.served_weights.setdefault(model, answers[0].weights.sha256)
            probabilities = torch.tensor([answer.probabilities for answer in answers], dtype=torch.float64)
            records[model] = sequence_record(probabilities, item.plan.sequence, probabilities=True)
        return ImageResult(item.index, records)

    def _ask(self, model: str, call: Callable[[], Answer]) -> Answer:
        """`call()`'s answer; ImageRefused when the endpoint refuses the image, EndpointError when it fails."""
        try:
            return call()
        except ApiError as error:
            refused = f"{error.code}: {error.message}"
            if 400 <= error.status < 500 and not error.code.startswith("bad_"):
                raise ImageRefused(refused) from None
            if error.code in (ErrorCode.OVERLOADED, ErrorCode.TORCHSERVE_UNAVAILABLE):
                tries = f"{self.options.retries + 1} tries"
                raise EndpointError(f"{model} is busy or not ready ({error.status}) after {tries}: {refused}") from None
            raise EndpointError(f"{model} answered {error.status}: {refused}") from None

    def _scores(self, client: HandlerClient, model: str, image: bytes, request: ShiftRequest, label: int) -> ViewScores:
        # The most the handler answers: p(true class) is known where the true class is in a view's top-k, or is
        # top-1 at some view (then class_probabilities holds its whole curve); elsewhere it is NaN.
        answer = self._ask(model, functools.partial(client.classify_shifts, model, image, request, topk=MAX_TOPK))
        self.served_weights.setdefault(model, answer.weights.sha256)
        return wire.view_scores(answer, label)
