"""What a client takes from the handler's answers (`antialiased.serving.contract`), trusting nothing: a refusal
becomes the ApiError it stands for, and an answer is checked against the contract and against what was asked
before anyone uses it. A top-k of the size asked (at most the model's classes, as it says: `model.num_classes`), of
distinct class indices within the classes, with probabilities in [0, 1] from the most probable down; every class's
probabilities (when asked; of each view of a shift answer) one per class, in [0, 1]; the label set (when asked) one
distinct name per class; a shift answer's views those asked, in order, and a probability curve, one value per view,
for each class top-1 at some view. Whatever breaks this is the server's fault: ApiError torchserve_error (502) saying
what it broke.

The size of an answer is bounded by what was asked (`answer_limit`): a client reads no more than that."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from antialiased.errors import ApiError, ErrorCode
from antialiased.label_sets import MAX_CLASSES, MAX_FILE_BYTES
from antialiased.serving.contract import (
    MAX_TOPK,
    Classification,
    ClassName,
    ErrorBody,
    ModelInfo,
    Prediction,
    ShiftClassification,
)
from antialiased.serving.torchserve_keys import KEY_REFUSED, key_refused
from antialiased.shifts import ShiftRequest

RETRY_STATUSES = (503, 507)
Answer = TypeVar("Answer", bound=BaseModel)
# The most bytes one part of an answer takes in JSON: a top-k entry (index, label, probability), a probability.
_ENTRY_BYTES = 512
_PROBABILITY_BYTES = 32
_BASE_BYTES = 64 * 1024  # the model and weights descriptions, the geometry, an error body
_SLACK = 1e-3  # float32 rounding in the probabilities


def answer_limit(
    topk: int = MAX_TOPK, probabilities: bool = True, shifts: ShiftRequest | None = None, labels: bool = False
) -> int:
    """The most bytes an answer to such a request can take (for a model of any class count the library takes, and
    with the `labels` asked: a label set as large as its file may be); a longer one is refused unread."""
    views = len(shifts.offsets) if shifts is not None else 1
    curves = views * views if shifts is not None else 0  # one curve per class top-1 somewhere
    every_class = views * MAX_CLASSES if probabilities else 0  # of each view
    label_set = 2 * MAX_FILE_BYTES if labels else 0  # JSON escapes may double what the file held
    return _BASE_BYTES + views * (topk * _ENTRY_BYTES + 64) + (curves + every_class) * _PROBABILITY_BYTES + label_set


class BrokenAnswer(ApiError):
    """The server's answer breaks the handler contract (or is larger than the request can need)."""

    def __init__(self, model: str, problem: str) -> None:
        super().__init__(
            ErrorCode.TORCHSERVE_ERROR, f"{model}: the server's answer breaks the contract: {problem}", 502
        )


class KeyRefused(ApiError):
    """TorchServe refused the request's key: missing, wrong, or stale since TorchServe renewed its keys."""

    def __init__(self, model: str) -> None:
        message = (
            f"TorchServe refused the key sent for {model} ({KEY_REFUSED.decode()}): it is missing, wrong, or stale "
            "since TorchServe renewed its keys (read them from its key file at each request)"
        )
        super().__init__(ErrorCode.TORCHSERVE_ERROR, message, 502)


def read_answer(model: str, response: httpx.Response, kind: type[Answer]) -> Answer:
    """The answer as `kind`; ApiError when it is a refusal or a failure (see `answer_error`) or not a `kind`."""
    if response.status_code != 200:
        raise answer_error(model, response)
    try:
        return kind.model_validate_json(response.content)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = f"not a {kind.__name__} ({error.error_count()} problems; {where}: {first['msg']})"
        raise BrokenAnswer(model, problem) from None


def answer_error(model: str, response: httpx.Response) -> ApiError:
    """The ApiError of an answer that is not a 200: our handler's refusal as it is (code, message, Retry-After),
    TorchServe's own failures as the probe codes (overloaded, torchserve_timeout, image_too_large, torchserve_error)."""
    status = response.status_code
    if key_refused(status, response.content):
        return KeyRefused(model)
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


def checked_classification(model: str, answer: Classification, topk: int, probabilities: bool) -> Classification:
    """`answer`, checked to be a plain answer to a request of `topk` (and every class's `probabilities`) by a model of
    the classes it says it has."""
    classes = _classes(model, answer.model)
    _check_topk(model, answer.topk, topk, "the top-k", classes)
    if probabilities:
        if answer.probabilities is None or len(answer.probabilities) != classes:
            got = "none" if answer.probabilities is None else len(answer.probabilities)
            raise BrokenAnswer(model, f"{got} class probabilities, not one per class ({classes})")
        _check_probabilities(model, answer.probabilities, "the class probabilities")
    return answer


def checked_labels(model: str, answer: Classification) -> list[ClassName]:
    """The label set `answer` carries, checked to name each of the model's classes once."""
    classes = _classes(model, answer.model)
    if answer.labels is None or len(answer.labels) != classes:
        got = "no" if answer.labels is None else len(answer.labels)
        raise BrokenAnswer(model, f"{got} class names, not the model's label set ({classes} classes)")
    names = [label.name for label in answer.labels]
    if len(set(names)) != len(names):
        raise BrokenAnswer(model, "its label set names one class twice")
    return answer.labels


def _classes(model: str, info: ModelInfo) -> int:
    if not 1 <= info.num_classes <= MAX_CLASSES:
        raise BrokenAnswer(model, f"a model of {info.num_classes} classes (1-{MAX_CLASSES})")
    return info.num_classes


def checked_shifts(
    model: str, answer: ShiftClassification, shifts: ShiftRequest, topk: int, probabilities: bool = False
) -> ShiftClassification:
    """`answer`, checked to answer `shifts` (its views, in order) with a top-`topk` each and their class curves (and
    with `probabilities`, every class's probability at each view)."""
    classes = _classes(model, answer.model)
    offsets = [tuple(view.offset) for view in answer.shifts]
    if offsets != list(shifts.offsets):
        raise BrokenAnswer(model, f"{len(offsets)} views that are not the {len(shifts.offsets)} offsets asked")
    if probabilities:
        views = answer.probabilities or []
        if len(views) != len(offsets) or any(len(view) != classes for view in views):
            raise BrokenAnswer(model, f"not one probability per class ({classes}) at each view")
        for number, view in enumerate(views):
            _check_probabilities(model, view, f"view {number}'s class probabilities")
    for number, view in enumerate(answer.shifts):
        _check_topk(model, view.topk, topk, f"view {number}'s top-k", classes)
    for key, curve in answer.class_probabilities.items():
        if not (key.isascii() and key.isdigit() and int(key) < classes):
            raise BrokenAnswer(model, f"class_probabilities names {key[:20]!r}, not a class index (0-{classes - 1})")
        if len(curve) != len(offsets):
            raise BrokenAnswer(model, f"class {key}'s curve has {len(curve)} values, not one per view ({len(offsets)})")
        _check_probabilities(model, curve, f"class {key}'s curve")
    missing = sorted({view.topk[0].index for view in answer.shifts} - {int(key) for key in answer.class_probabilities})
    if missing:
        raise BrokenAnswer(model, f"no probability curve for class {missing[0]}, top-1 at some view")
    return answer


def _check_topk(model: str, entries: Sequence[Prediction], topk: int, where: str, classes: int) -> None:
    asked = min(topk, classes)  # a model of fewer classes answers all of them
    if len(entries) != asked:
        raise BrokenAnswer(model, f"{where} holds {len(entries)} classes, not the {asked} asked")
    indices = [entry.index for entry in entries]
    wrong = next((index for index in indices if not 0 <= index < classes), None)
    if wrong is not None:
        raise BrokenAnswer(model, f"{where} names class {wrong}, not a class index (0-{classes - 1})")
    if len(set(indices)) != len(indices):
        raise BrokenAnswer(model, f"{where} names one class more than once ({indices})")
    values = [entry.probability for entry in entries]
    _check_probabilities(model, values, where)
    if any(later > earlier + _SLACK for earlier, later in itertools.pairwise(values)):
        raise BrokenAnswer(model, f"{where} is not in decreasing order of probability")


def _check_probabilities(model: str, values: Sequence[float], where: str) -> None:
    wrong = next((value for value in values if not (math.isfinite(value) and -_SLACK <= value <= 1 + _SLACK)), None)
    if wrong is not None:
        raise BrokenAnswer(model, f"{where} holds the probability {wrong}, not one in [0, 1]")
