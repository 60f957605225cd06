"""The frames of a sequence probe (/v1/sequence): several image files of one multipart body, in order, each field
`frame`. Nothing is decoded here: each frame's header is checked (the image limits), and the sequence as a whole
within `antialiased.sequences.SequenceLimits` (frames, bytes, pixels); beyond a limit the request is refused before
anything is decoded or sent on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import UploadFile

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageInfo, inspect_image
from antialiased.metrics import TOP5
from antialiased.sequences import MIN_FRAMES, check_frame_count, check_sequence_pixels
from antialiased.serving.contract import MAX_TOPK
from service.admission import Lease
from service.params import merge_form, parse_multipart, read_body, split_commas
from service.settings import MULTIPART_OVERHEAD_BYTES, Settings

FRAME_FIELD = "frame"


class SequenceParams(BaseModel):
    """Which targets classify the frames, and how many predictions to return per frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: list[str] | None = Field(
        None, description="Targets to compare (repeated or comma-separated); default: all configured."
    )
    topk: int = Field(TOP5, ge=1, le=MAX_TOPK, description="Predictions returned per frame.")

    _split_commas = field_validator("models", mode="before")(lambda value: split_commas(value))


@dataclass(frozen=True)
class Frames:
    """The encoded frames in order and their headers."""

    images: list[bytes]
    infos: list[ImageInfo]

    @property
    def pixels(self) -> int:
        return sum(info.pixels for info in self.infos)


async def read_frames(
    request: Request, params: SequenceParams, settings: Settings, lease: Lease
) -> tuple[Frames, SequenceParams]:
    """The frames of the multipart body (its declared length reserved in `lease`), each header checked, and
    `params` with the form's text fields."""
    limits = settings.sequence
    body = await read_body(
        request, settings.sequence_max_bytes + MULTIPART_OVERHEAD_BYTES, settings.body_deadlines, lease
    )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        message = f"send the frames as a multipart body, each image file in a field {FRAME_FIELD!r}, in order"
        raise ApiError(ErrorCode.EMPTY_BODY if not body else ErrorCode.INVALID_MULTIPART, message)
    too_many = ApiError(ErrorCode.TOO_MANY_FRAMES, f"the sequence has more than {limits.max_frames} frames", 413)
    form = await parse_multipart(request, body, limits.max_frames, too_many)
    images = []
    for value in form.getlist(FRAME_FIELD):
        if not isinstance(value, UploadFile):
            raise ApiError(ErrorCode.INVALID_IMAGE, f"multipart field {FRAME_FIELD!r} must hold files, not text")
        images.append(await value.read())
    if not images:
        raise ApiError(ErrorCode.EMPTY_BODY, f"no frames: send at least {MIN_FRAMES} files in field {FRAME_FIELD!r}")
    check_frame_count(len(images), limits)
    params = merge_form(params, form, (FRAME_FIELD,))
    infos = [_frame_header(k, image, settings) for k, image in enumerate(images)]
    frames = Frames(images, infos)
    check_sequence_pixels(frames.pixels, limits)
    return frames, params


def _frame_header(index: int, image: bytes, settings: Settings) -> ImageInfo:
    """The frame's header within the image limits; an ApiError names the frame."""
    try:
        return inspect_image(image, settings.image)
    except ApiError as error:
        raise ApiError(error.code, f"frame {index}: {error.message}", error.status, detail={"frame": index}) from None


SEQUENCE_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        FRAME_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": MIN_FRAMES}
    },
    "required": [FRAME_FIELD],
    "additionalProperties": False,
}
