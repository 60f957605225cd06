"""The one error type of the serving stack and its public error codes (torch-free).

Every refusal — a bad image, an impossible shift protocol, a malformed shift request, an overloaded
worker, an unreachable TorchServe — is an `ApiError(code, message, status)`. The handler and the probe
service answer it as the JSON body `{"code": ..., "message": ...}` with `status`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The `code` of every error body the handler and the probe service send."""

    # The image and the request that carries it (handler and service).
    EMPTY_BODY = "empty_body"
    INVALID_IMAGE = "invalid_image"
    IMAGE_TOO_LARGE = "image_too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    IMAGE_TOO_SMALL = "image_too_small"
    ASPECT_RATIO_TOO_LARGE = "aspect_ratio_too_large"
    BAD_TOPK = "bad_topk"
    BAD_SHIFT_REQUEST = "bad_shift_request"
    # Load: the request is fine, but not now (503 with Retry-After).
    OVERLOADED = "overloaded"
    INTERNAL_ERROR = "internal_error"
    # Probe parameters (service).
    INVALID_PARAMETER = "invalid_parameter"
    UNKNOWN_PROTOCOL = "unknown_protocol"
    TOO_MANY_SHIFTS = "too_many_shifts"
    CROP_LARGER_THAN_IMAGE = "crop_larger_than_image"
    UNKNOWN_MODEL = "unknown_model"
    TOO_MANY_MODELS = "too_many_models"
    TOO_FEW_FRAMES = "too_few_frames"  # a frame sequence with fewer than two frames
    TOO_MANY_FRAMES = "too_many_frames"
    INVALID_VIDEO = "invalid_video"  # not a video of an accepted container and codec, or its data is corrupt or cut
    NO_VIDEO_STREAM = "no_video_stream"  # a container with no video stream (audio only)
    VIDEO_TOO_SLOW = "video_too_slow"  # decoding the video would pass its wall-clock budget
    INVALID_MULTIPART = "invalid_multipart"
    REQUEST_TIMEOUT = "request_timeout"
    CLIENT_CLOSED_REQUEST = "client_closed_request"  # 499: the client left before its answer (logs and metrics only)
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    NOT_READY = "not_ready"
    INVALID_INFERENCE_REQUEST = "invalid_inference_request"  # an Open Inference Protocol body the service refuses
    # The model server behind the service.
    TORCHSERVE_UNAVAILABLE = "torchserve_unavailable"
    TORCHSERVE_TIMEOUT = "torchserve_timeout"
    TORCHSERVE_ERROR = "torchserve_error"
    # A probe target other than our TorchServe: it failed or answered nonsense (502), or was too slow (504).
    TARGET_ERROR = "target_error"
    TARGET_TIMEOUT = "target_timeout"


class ApiError(Exception):
    """A refused or failed request: `code` names the reason, `message` explains it to a person, `status` is the
    HTTP status to answer with, `headers` extra response headers (e.g. Retry-After), `detail` optional JSON."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        status: int = 400,
        *,
        headers: dict[str, str] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.detail = detail

    def body(self) -> dict[str, Any]:
        """The JSON error body: code and message (and detail when there is one)."""
        body: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


def overloaded(message: str, retry_after_s: int = 1) -> ApiError:
    """A 503 that asks the client to retry after `retry_after_s` seconds."""
    return ApiError(ErrorCode.OVERLOADED, message, 503, headers={"Retry-After": str(retry_after_s)})
