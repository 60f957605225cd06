"""The handler's wire format, as the endpoint engine speaks it: a shift request out, ViewScores back.

`POST /predictions/<model>` with multipart fields `data` (the image file), `shifts` (the JSON of
`ShiftRequest.to_json()`) and `topk`; the answer holds `shifts: [{offset, topk: [{index, label,
probability}]}]` in request order and `class_probabilities` ({class: [p per shift]} for every class that
is top-1 at some shift); a refused input is a 4xx with `{code, message}`. The field names mirror the
handler's (handlers/requests.py), which the library cannot import; this module is the one place to swap
for the shared contract module.
"""

from __future__ import annotations

import json
import math
from typing import Any

from antialiased.evaluate.scoring import ViewScores
from antialiased.metrics import TOP5
from antialiased.shifts import ShiftRequest

IMAGE_FIELD = "data"
SHIFTS_FIELD = "shifts"
TOPK_FIELD = "topk"
# The handler's default max_topk. p(true class) is known where the true class is in a view's top-k, or is
# top-1 at some view (then class_probabilities holds its whole curve); elsewhere it is NaN.
REQUEST_TOPK = 20


def request_parts(image: bytes, request: ShiftRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """httpx's `files` and `data` of a shift request for `image`."""
    files = {IMAGE_FIELD: ("image", image, "application/octet-stream")}
    return files, {SHIFTS_FIELD: json.dumps(request.to_json()), TOPK_FIELD: str(REQUEST_TOPK)}


def refusal(answer: Any) -> str | None:
    """'code: message' of a handler's refusal of the input (the local engines' error format), else None."""
    if isinstance(answer, dict) and isinstance(answer.get("code"), str) and isinstance(answer.get("message"), str):
        return f"{answer['code']}: {answer['message']}"
    return None


def view_scores(answer: dict[str, Any], request: ShiftRequest, label: int) -> ViewScores:
    """ViewScores of a shift request's views from the handler's answer; ValueError if it does not match."""
    shifts = answer["shifts"]
    if [tuple(s["offset"]) for s in shifts] != list(request.offsets):
        raise ValueError("the answer's offsets are not the request's")
    curve = answer.get("class_probabilities", {}).get(str(label))
    top1, correct5, p_true, p_other = [], [], [], []
    for k, shift in enumerate(shifts):
        entries = shift["topk"]
        indices = [entry["index"] for entry in entries]
        top1.append(indices[0])
        correct5.append(label in indices[:TOP5])
        known = {entry["index"]: entry["probability"] for entry in entries}
        p_true.append(curve[k] if curve is not None else known.get(label, math.nan))
        p_other.append(next(entry["probability"] for entry in entries if entry["index"] != label))
    return ViewScores(top1, correct5, p_true, p_other)


def weights_sha256(answer: dict[str, Any]) -> str | None:
    """The served weights' sha256, as the handler reports it."""
    return (answer.get("weights") or {}).get("sha256")
