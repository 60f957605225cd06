"""One TorchServe request row -> what to classify: the image bytes, k, and the shifts (if any); see
`antialiased.serving.contract` for the wire format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from antialiased.errors import ApiError, ErrorCode
from antialiased.preprocessing import CROP_SIZE
from antialiased.serving.contract import (
    IMAGE_FIELD,
    LABELS_FIELD,
    LABELS_HEADER,
    MAX_PROBABILITY_VIEWS,
    PROBABILITIES_FIELD,
    PROBABILITIES_HEADER,
    PURPOSE_HEADER,
    SHIFTS_FIELD,
    SYNTHETIC_PURPOSES,
    TOPK_FIELD,
    TOPK_HEADER,
)
from antialiased.shifts import ShiftRequest
from handlers.settings import Limits

RAW_BODY_FIELD = "body"  # where TorchServe puts a request body that is not multipart
_FLAGS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class ParsedRequest:
    """What one request asks: classify `image` (at each shift of `shifts`, if given), answering the top `topk`
    (and every class's probability when `probabilities`, the model's label set when `labels`); `purpose` marks a
    synthetic (readiness) prediction."""

    image: bytes
    topk: int
    shifts: ShiftRequest | None
    probabilities: bool = False
    purpose: str | None = None
    labels: bool = False

    @property
    def views(self) -> int:
        """How many images the model sees for this request."""
        return 1 if self.shifts is None else len(self.shifts.offsets)

    @property
    def view_pixels(self) -> int:
        """The pixels of its views together (views x crop area): what it costs in the model's forward passes."""
        return CROP_SIZE**2 if self.shifts is None else self.shifts.view_pixels


def parse_request(row: Mapping[str, Any], limits: Limits, headers: Mapping[str, str] | None = None) -> ParsedRequest:
    """Read a request row as TorchServe hands it to the handler (and its lower-cased HTTP headers);
    raise ApiError on any problem, 413 too_many_pixels for views beyond what one request may hold."""
    headers = headers or {}
    image = row.get(IMAGE_FIELD) if IMAGE_FIELD in row else row.get(RAW_BODY_FIELD)
    if image is None:
        raise ApiError(ErrorCode.EMPTY_BODY, _no_image_message(headers))
    if isinstance(image, str):
        raise ApiError(ErrorCode.INVALID_IMAGE, "the request holds text, not image bytes")
    if not isinstance(image, bytes | bytearray):
        raise ApiError(ErrorCode.INVALID_IMAGE, f"the request holds {type(image).__name__} (JSON?), not image bytes")
    topk = row.get(TOPK_FIELD, headers.get(TOPK_HEADER.lower()))
    shifts = _shifts(row.get(SHIFTS_FIELD), limits)
    probabilities = _flag(row.get(PROBABILITIES_FIELD, headers.get(PROBABILITIES_HEADER.lower())), PROBABILITIES_FIELD)
    labels = _flag(row.get(LABELS_FIELD, headers.get(LABELS_HEADER.lower())), LABELS_FIELD)
    if labels and shifts is not None:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{LABELS_FIELD} is for plain requests, not shift requests")
    if probabilities and shifts is not None and len(shifts.offsets) > MAX_PROBABILITY_VIEWS:
        message = f"{PROBABILITIES_FIELD} answers at most {MAX_PROBABILITY_VIEWS} views, not {len(shifts.offsets)}"
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{message}: ask fewer shifts, or the top-k only")
    purpose = headers.get(PURPOSE_HEADER.lower())
    synthetic = purpose if purpose in SYNTHETIC_PURPOSES else None  # any other value is not a metric label
    request = ParsedRequest(bytes(image), _topk(topk, limits), shifts, probabilities, synthetic, labels)
    if request.view_pixels > limits.max_view_pixels_per_request:
        raise ApiError(
            ErrorCode.TOO_MANY_PIXELS,
            f"the {request.views} views of {shifts.crop_size}x{shifts.crop_size} pixels hold {request.view_pixels} "
            f"pixels; one request holds at most {limits.max_view_pixels_per_request} (max_view_pixels_per_request): "
            "send the offsets in several requests (antialiased.shifts.ShiftRequest.chunks), or a smaller crop_size",
            413,
        )
    return request


def _no_image_message(headers: Mapping[str, str]) -> str:
    message = f"send the image as the body or in the multipart field {IMAGE_FIELD!r}"
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return message
    # TorchServe splits a form body (curl's default Content-Type for --data) into fields: the image is lost.
    return (
        f"{message}; this body was sent as a form (Content-Type application/x-www-form-urlencoded, curl's default "
        "for --data): send it with Content-Type application/octet-stream or image/jpeg, e.g. curl -T photo.jpg"
    )


def _topk(value: Any, limits: Limits) -> int:
    if value is None:
        return limits.default_topk
    text = _text(value, TOPK_FIELD, ErrorCode.BAD_TOPK).strip()
    try:
        k = int(text)
    except ValueError:
        raise ApiError(ErrorCode.BAD_TOPK, f"topk must be an integer, got {text[:40]!r}") from None
    if not 1 <= k <= limits.max_topk:
        raise ApiError(ErrorCode.BAD_TOPK, f"topk must be in [1, {limits.max_topk}], got {k}")
    return k


def _flag(value: Any, field: str) -> bool:
    if value is None:
        return False
    text = _text(value, field, ErrorCode.INVALID_PARAMETER).strip().lower()
    if text not in _FLAGS:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{field} must be true or false, got {text[:40]!r}")
    return _FLAGS[text]


def _shifts(value: Any, limits: Limits) -> ShiftRequest | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):  # TorchServe already parses a part sent as application/json
        try:
            value = json.loads(_text(value, SHIFTS_FIELD, ErrorCode.BAD_SHIFT_REQUEST))
        except ValueError as error:
            raise ApiError(ErrorCode.BAD_SHIFT_REQUEST, f"shifts is not valid JSON: {error}") from None
    try:
        return ShiftRequest.from_json(value, max_offsets=limits.max_offsets, max_crop_size=limits.max_crop_size)
    except ApiError as error:  # on the wire, every problem of a shift request is a bad shift request
        raise ApiError(ErrorCode.BAD_SHIFT_REQUEST, error.message) from None


def _text(value: Any, field: str, code: ErrorCode) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(code, f"{field} is not UTF-8 text") from None
    raise ApiError(code, f"{field} has an unexpected type {type(value).__name__}")
