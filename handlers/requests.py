"""One TorchServe request row -> what to classify: the image bytes, k, and the shifts (if any)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from antialiased.errors import InputError
from antialiased.shifts import ShiftRequest, ShiftRequestError
from handlers.settings import Limits

IMAGE_FIELD = "data"  # multipart field of the image; a raw request body arrives as "body"
TOPK_FIELD = "topk"  # multipart field
# With a raw body, k comes from this header: TorchServe 0.12 does not pass the query parameters of
# /predictions/<model> on to the handler.
TOPK_HEADER = "x-topk"
SHIFTS_FIELD = "shifts"  # multipart field: the JSON of ShiftRequest.to_json()


class RequestError(InputError):
    """A request that is refused (see InputError); status 500 only for a failure the handler did not foresee."""


@dataclass(frozen=True)
class ParsedRequest:
    """What one request asks: classify `image` (at each shift of `shifts`, if given), answering the top `topk`."""

    image: bytes
    topk: int
    shifts: ShiftRequest | None


def parse_request(row: Mapping[str, Any], limits: Limits, headers: Mapping[str, str] | None = None) -> ParsedRequest:
    """Read a request row as TorchServe hands it to the handler (and its lower-cased HTTP headers);
    raise RequestError on any problem."""
    image = row.get(IMAGE_FIELD) if IMAGE_FIELD in row else row.get("body")
    if image is None:
        raise RequestError("empty_body", _no_image_message(headers or {}))
    if isinstance(image, str):
        raise RequestError("invalid_image", "the request holds text, not image bytes")
    if not isinstance(image, bytes | bytearray):
        raise RequestError("invalid_image", f"the request holds {type(image).__name__} (JSON?), not image bytes")
    topk = row.get(TOPK_FIELD, (headers or {}).get(TOPK_HEADER))
    return ParsedRequest(bytes(image), _topk(topk, limits), _shifts(row.get(SHIFTS_FIELD), limits))


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
    text = _text(value, TOPK_FIELD, "bad_topk").strip()
    try:
        k = int(text)
    except ValueError:
        raise RequestError("bad_topk", f"topk must be an integer, got {text[:40]!r}") from None
    if not 1 <= k <= limits.max_topk:
        raise RequestError("bad_topk", f"topk must be in [1, {limits.max_topk}], got {k}")
    return k


def _shifts(value: Any, limits: Limits) -> ShiftRequest | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):  # TorchServe already parses a part sent as application/json
        try:
            value = json.loads(_text(value, SHIFTS_FIELD, "bad_shift_request"))
        except ValueError as error:
            raise RequestError("bad_shift_request", f"shifts is not valid JSON: {error}") from None
    try:
        return ShiftRequest.from_json(value, max_shifts=limits.max_shifts)
    except ShiftRequestError as error:
        raise RequestError("bad_shift_request", str(error)) from None


def _text(value: Any, field: str, code: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(code, f"{field} is not UTF-8 text") from None
    raise RequestError(code, f"{field} has an unexpected type {type(value).__name__}")
