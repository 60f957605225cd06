"""The deployed engine: the models a TorchServe serves, through the handler's shift requests.

One request per image and model with every crop view of the image (and one more with its circular views
when circular consistency is measured), at most `concurrency` in flight, through the handler contract's client
(`antialiased.serving.handler_client`: its retries of 503, 507 and refused connections). On the same weights the answers
are the local engine's, so the figures are.

A sequence (the sequence measure) is asked one frame a request (a frame file as it is; a video's frame, decoded
here, as a lossless PNG): a shift request of the one view the local engine classifies (`plans.frame_request`: a
224 x 224 frame as it is, resized to its own size; another, its 224 center crop of the image resized to 256, the
view of /v1/sequence's plain requests), answering its top 5 and every class's probability, so the majority class's
probability is known at every frame; its record is the local engine's (`scoring.sequence_record`, from the
probabilities).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from antialiased.datasets import read_image_file, unreadable
from antialiased.errors import ApiError, ErrorCode
from antialiased.evaluate.config import EndpointOptions
from antialiased.evaluate.engines import wire
from antialiased.evaluate.engines.base import ImageResult, WorkItem, frame_error, sequence_frames
from antialiased.evaluate.plans import frame_request
from antialiased.evaluate.scoring import ViewScores, image_record, sequence_record
from antialiased.imagefile import inspect_image
from antialiased.label_sets import ClassLabel, LabelSet
from antialiased.metrics import TOP5
from antialiased.sequences.video import frame_png
from antialiased.serving.contract import MAX_TOPK, ClassName
from antialiased.serving.handler_answers import KeyRefused
from antialiased.serving.handler_client import ClientOptions, HandlerClient, Headers, RetryPolicy
from antialiased.serving.readiness import readiness_image
from antialiased.serving.torchserve_keys import bearer_headers
from antialiased.shifts import ShiftRequest

# A TorchServe with token authorization: its key file (key_file.json in its working directory), read at every request
# so that the keys TorchServe renews (every half lifetime, 30 min by default) are followed; or a fixed key, which
# lasts until the next renewal.
KEY_FILE_ENV = "ANTIALIASED_ENDPOINT_KEY_FILE"
TOKEN_ENV = "ANTIALIASED_ENDPOINT_TOKEN"
MAX_BACKOFF_S = 30.0
Answer = TypeVar("Answer")


class ImageRefused(Exception):
    """The endpoint refused this image (its 'code: message'): the image is reported unreadable, the run goes on."""


class EndpointError(RuntimeError):
    """The endpoint failed in a way that retrying does not fix; the run stops and can be resumed."""


def _key_headers() -> Headers | None:
    """The Authorization header, read at every try, from ANTIALIASED_ENDPOINT_KEY_FILE or ANTIALIASED_ENDPOINT_TOKEN."""
    token, key_file = os.environ.get(TOKEN_ENV) or None, os.environ.get(KEY_FILE_ENV) or None
    if token and key_file:
        raise EndpointError(f"both {TOKEN_ENV} and {KEY_FILE_ENV} are set: give one (the key file follows renewals)")
    if key_file and not Path(key_file).is_file():
        raise EndpointError(f"{KEY_FILE_ENV}={key_file}: no such file (TorchServe writes key_file.json in its working "
                            "directory when token authorization is on)")  # fmt: skip
    if not (token or key_file):
        return None
    return functools.partial(bearer_headers, token, Path(key_file) if key_file else None)


def client_options(options: EndpointOptions) -> ClientOptions:
    """How the engine calls the endpoint: its URL, retries, timeouts, connections and key."""
    return ClientOptions(
        url=options.url,
        policy=RetryPolicy(options.retries, options.backoff_s, max_backoff_s=MAX_BACKOFF_S),
        timeout_s=options.timeout_s,
        connect_timeout_s=10.0,
        max_connections=options.concurrency,
        headers=_key_headers(),
    )


def endpoint_failure(model: str, error: ApiError, options: EndpointOptions) -> EndpointError:
    """The run-stopping error of a request to `model` that failed (busy after its retries, or broken)."""
    refused = f"{error.code}: {error.message}"
    if error.code in (ErrorCode.OVERLOADED, ErrorCode.TORCHSERVE_UNAVAILABLE):
        tries = f"{options.retries + 1} tries"
        return EndpointError(f"{model} is busy or not ready ({error.status}) after {tries}: {refused}")
    return EndpointError(f"{model} answered {error.status}: {refused}")


def served_label_sets(models: list[str], options: EndpointOptions) -> dict[str, LabelSet]:
    """Each served model's label set, as its handler tells it; EndpointError when the endpoint cannot."""
    label_sets = {}
    with HandlerClient(client_options(options)) as client:
        for model in models:
            try:
                label_sets[model] = _label_set(client.label_set(model, readiness_image()))
            except ApiError as error:
                raise endpoint_failure(model, error, options) from None
    return label_sets


def _label_set(names: list[ClassName]) -> LabelSet:
    return LabelSet(tuple(ClassLabel(name.name, name.id) for name in names))


class EndpointEngine:
    def __init__(self, models: list[str], options: EndpointOptions) -> None:
        self.models = models
        self.options = options
        self.served_weights: dict[str, str | None] = {}
        self._client_options = client_options(options)

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
                frames.append((name, *_frame_file(item.frames[number] if item.frames else pixels())))
        except (OSError, ApiError) as error:
            return ImageResult(item.index, error=frame_error(frame, unreadable(error)))
        records = {}
        for model in self.models:
            answers = []
            for name, frame_file, view in frames:
                ask = functools.partial(client.classify_shifts, model, frame_file, view, topk=TOP5, probabilities=True)
                try:
                    answers.append(self._ask(model, ask))
                except ImageRefused as error:
                    return ImageResult(item.index, error=frame_error(name, str(error)))
            self.served_weights.setdefault(model, answers[0].weights.sha256)
            probabilities = torch.tensor([answer.probabilities[0] for answer in answers], dtype=torch.float64)
            records[model] = sequence_record(probabilities, item.plan.sequence, probabilities=True)
        return ImageResult(item.index, records)

    def _ask(self, model: str, call: Callable[[], Answer]) -> Answer:
        """`call()`'s answer; ImageRefused when the endpoint refuses the image, EndpointError when it fails."""
        try:
            return call()
        except KeyRefused as error:
            fixed = os.environ.get(TOKEN_ENV)
            hint = f"; {TOKEN_ENV} is a fixed key: set {KEY_FILE_ENV} to TorchServe's key file instead" if fixed else ""
            raise EndpointError(f"{error.message}{hint}") from None
        except ApiError as error:
            if 400 <= error.status < 500 and not error.code.startswith("bad_"):
                raise ImageRefused(f"{error.code}: {error.message}") from None
            raise endpoint_failure(model, error, self.options) from None

    def _scores(self, client: HandlerClient, model: str, image: bytes, request: ShiftRequest, label: int) -> ViewScores:
        # The most the handler answers: p(true class) is known where the true class is in a view's top-k, or is
        # top-1 at some view (then class_probabilities holds its whole curve); elsewhere it is NaN.
        answer = self._ask(model, functools.partial(client.classify_shifts, model, image, request, topk=MAX_TOPK))
        self.served_weights.setdefault(model, answer.weights.sha256)
        return wire.view_scores(answer, label)


def _frame_file(frame: Path | np.ndarray) -> tuple[bytes, ShiftRequest]:
    """A frame as the handler gets it (a frame file as it is, decoded pixels as a lossless PNG) and the shift request
    of its view (`plans.frame_request`, from its size)."""
    if isinstance(frame, Path):
        data = read_image_file(frame)
        info = inspect_image(data)
        return data, frame_request(info.height, info.width)
    return frame_png(frame), frame_request(*frame.shape[:2])
