"""The handler contract (`antialiased.contract`) as the endpoint engine speaks it: a shift request out, ViewScores
back."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import ValidationError

from antialiased.contract import IMAGE_FIELD, MAX_TOPK, SHIFTS_FIELD, TOPK_FIELD, ErrorBody, ShiftClassification
from antialiased.evaluate.scoring import ViewScores
from antialiased.metrics import TOP5
from antialiased.shifts import ShiftRequest


def request_parts(image: bytes, request: ShiftRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """httpx's `files` and `data` of a shift request for `image`."""
    files = {IMAGE_FIELD: ("image", image, "application/octet-stream")}
    # The most the handler answers: p(true class) is known where the true class is in a view's top-k, or is top-1
    # at some view (then class_probabilities holds its whole curve); elsewhere it is NaN.
    return files, {SHIFTS_FIELD: json.dumps(request.to_json()), TOPK_FIELD: str(MAX_TOPK)}


def refusal(content: bytes) -> str | None:
    """'code: message' of a handler's refusal of the input (the local engines' error format), else None."""
    try:
        body = ErrorBody.model_validate_json(content)
    except ValidationError:
        return None
    return f"{body.code}: {body.message}"


def parse(content: bytes, request: ShiftRequest) -> ShiftClassification:
    """The handler's answer to `request`; ValueError if it is not one."""
    answer = ShiftClassification.model_validate_json(content)  # a ValidationError is a ValueError
    if not answer.matches(request):
        raise ValueError("the answer's offsets are not the request's")
    return answer


def view_scores(answer: ShiftClassification, label: int) -> ViewScores:
    """ViewScores of a shift request's views from the handler's answer."""
    curve = answer.class_probabilities.get(str(label))
    top1, correct5, p_true, p_other = [], [], [], []
    for k, shift in enumerate(answer.shifts):
        indices = [entry.index for entry in shift.topk]
        top1.append(indices[0])
        correct5.append(label in indices[:TOP5])
        known = {entry.index: entry.probability for entry in shift.topk}
        p_true.append(curve[k] if curve is not None else known.get(label, math.nan))
        p_other.append(next(entry.probability for entry in shift.topk if entry.index != label))
    return ViewScores(top1, correct5, p_true, p_other)
