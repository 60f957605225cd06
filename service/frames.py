"""The frames of a sequence probe (/v1/sequence): several image files of one multipart body, in order, each field
`frame`; or one video file in a field `video` (service/video.py decodes it). Nothing is decoded here: each frame's
header is checked (the image limits), and the sequence as a whole within `antialiased.sequences.SequenceLimits`
(frames, bytes, pixels); beyond a limit the request is refused before anything is decoded or sent on. `stride` and
`max_frames` pick the frames used, of the frames or of the video."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ConfigDict, Field, field_validator
from starlette.datastructures import FormData, UploadFile

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageInfo, inspect_image
from antialiased.sequences import MIN_FRAMES, FrameSelection, check_frame_count, check_sequence_pixels
from antialiased.sequences.video import VideoInfo
from service.admission import Lease
from service.params import TopK, TopKSpelling, merge_form, parse_multipart, read_body, topk_field
from service.settings import MULTIPART_OVERHEAD_BYTES, Settings, split_commas
from service.video import VIDEO_FIELD

FRAME_FIELD = "frame"


class SequenceParams(TopKSpelling):
    """Which targets classify the frames, and how many predictions to return per frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: list[str] | None = Field(
        None, description="Targets to compare (repeated or comma-separated); default: all configured."
    )
    topk: TopK = topk_field("frame")
    stride: int = Field(1, ge=1, description="Use every stride-th frame, from the first (of the frames or the video).")
    max_frames: int | None = Field(
        None,
        ge=MIN_FRAMES,
        description="Use at most this many frames; default and largest: PROBE_SEQUENCE__MAX_FRAMES.",
    )

    @property
    def selection(self) -> FrameSelection:
        return FrameSelection(self.stride, self.max_frames)

    _split_commas = field_validator("models", mode="before")(lambda value: split_commas(value))


@dataclass(frozen=True)
class Frames:
    """The encoded frames used, in order, their headers, their indices in what was sent, and the video's header
    when they come from one."""

    images: list[bytes]
    infos: list[ImageInfo]
    used: list[int]
    video: VideoInfo | None = None

    @property
    def pixels(self) -> int:
        return sum(info.pixels for info in self.infos)


async def read_sequence(
    request: Request, params: SequenceParams, settings: Settings, lease: Lease
) -> tuple[Frames | bytes, SequenceParams]:
    """The frames of the multipart body, each header checked, or its video file (not yet decoded: `bytes`), and
    `params` with the form's text fields. The body's declared length is reserved in `lease` before it is read."""
    limits = settings.sequence
    body = await read_body(
        request, settings.sequence_max_bytes + MULTIPART_OVERHEAD_BYTES, settings.body_deadlines, lease
    )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        message = f"send the frames as a multipart body, each image file in a field {FRAME_FIELD!r}, in order"
        raise ApiError(ErrorCode.EMPTY_BODY if not body else ErrorCode.INVALID_MULTIPART, message + _OR_VIDEO)
    too_many = ApiError(ErrorCode.TOO_MANY_FRAMES, f"the sequence has more than {limits.max_frames} frames", 413)
    form = await parse_multipart(request, body, limits.max_frames, too_many)
    images, videos = await _files(form, FRAME_FIELD), await _files(form, VIDEO_FIELD)
    params = merge_form(params, form, (FRAME_FIELD, VIDEO_FIELD))
    if videos:
        if images or len(videos) > 1:
            raise ApiError(ErrorCode.INVALID_MULTIPART, f"send one file in field {VIDEO_FIELD!r} and nothing else")
        return videos[0], params
    if not images:
        raise ApiError(
            ErrorCode.EMPTY_BODY, f"no frames: send at least {MIN_FRAMES} files in field {FRAME_FIELD!r}{_OR_VIDEO}"
        )
    if sum(map(len, images)) > settings.sequence_max_bytes:  # the body's limit left room for the multipart framing
        held = sum(map(len, images))
        message = f"the frames hold {held} bytes in all; the limit is {settings.sequence_max_bytes}"
        raise ApiError(ErrorCode.IMAGE_TOO_LARGE, message, 413)
    used = list(params.selection.indices(len(images), limits))
    check_frame_count(len(used), limits)
    infos = [_frame_header(k, images[k], settings) for k in used]
    frames = Frames([images[k] for k in used], infos, used)
    check_sequence_pixels(frames.pixels, limits)
    return frames, params


_OR_VIDEO = f", or one video file in field {VIDEO_FIELD!r}"


async def _files(form: FormData, field: str) -> list[bytes]:
    """The files of a multipart field; ApiError for a text value."""
    files = []
    for value in form.getlist(field):
        if not isinstance(value, UploadFile):
            code = ErrorCode.INVALID_IMAGE if field == FRAME_FIELD else ErrorCode.INVALID_VIDEO
            raise ApiError(code, f"multipart field {field!r} must hold files, not text")
        files.append(await value.read())
    return files


def _frame_header(index: int, image: bytes, settings: Settings) -> ImageInfo:
    """The frame's header within the image limits; an ApiError names the frame."""
    try:
        return inspect_image(image, settings.image)
    except ApiError as error:
        raise ApiError(error.code, f"frame {index}: {error.message}", error.status, detail={"frame": index}) from None


SEQUENCE_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        FRAME_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": MIN_FRAMES},
        VIDEO_FIELD: {"type": "string", "format": "binary", "description": "One video file instead of frames"},
    },
    "oneOf": [{"required": [FRAME_FIELD]}, {"required": [VIDEO_FIELD]}],
    "additionalProperties": False,
}
