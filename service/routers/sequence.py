"""The sequence probe (/v1/sequence): several frames, or one video, in one multipart body, classified by several
targets side by side, scored from frame to frame (`antialiased.sequences`)."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from antialiased.preprocessing import CROP_SIZE
from service.dependencies import SettingsDep, TargetsDep, require_api_key
from service.errors import PROBE_ERRORS
from service.frames import FRAME_FIELD, SEQUENCE_BODY_SCHEMA, Frames, SequenceParams, read_sequence
from service.params import upload_lease
from service.probing import sequence_target
from service.schemas import ModelSequence, SequenceResponse, VideoFacts, request_timings
from service.targets.base import FramesProbe, Target
from service.tasks import gather_or_fail
from service.validation import check_models, compared_models
from service.video import VIDEO_FIELD, decode_frames, read_header
from service.views import frame_view_pixels

router = APIRouter(prefix="/v1", tags=["probe"])

_FRAMES_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The frames, in order: a multipart body with each image file in a field `{FRAME_FIELD}`; "
        f"or one video file (MP4, MOV, MKV, WebM, animated GIF) in a field `{VIDEO_FIELD}`. Parameters go in the "
        "query string or as form fields (not both).",
        "content": {
            "multipart/form-data": {
                "schema": SEQUENCE_BODY_SCHEMA,
                "encoding": {FRAME_FIELD: {"contentType": "image/*"}, VIDEO_FIELD: {"contentType": "video/*"}},
            }
        },
    }
}


@router.post(
    "/sequence",
    response_model=SequenceResponse,
    responses=PROBE_ERRORS,
    openapi_extra=_FRAMES_BODY,
    dependencies=[Depends(require_api_key)],
)
async def sequence(
    request: Request, params: Annotated[SequenceParams, Query()], settings: SettingsDep, targets: TargetsDep
) -> SequenceResponse:
    """Classify every frame of a sequence (or the frames used of a video) with each target: the top-k per frame,
    the flip rate, the mean top-5 distance and the wobble over consecutive frames."""
    start = time.perf_counter()
    async with upload_lease(request) as lease:
        sent, params = await read_sequence(request, params, settings, lease)
        models = compared_models(params.models, settings, targets)
        check_models(models, settings)
        chosen = [targets[model] for model in models]
        cuts = any(target.cuts_views for target in chosen)
        if isinstance(sent, Frames):
            validated = time.perf_counter()
            frames, results = sent, await _classify(request, chosen, sent, params.topk, cuts)
        else:
            # The header first (nothing decoded), then the decoding and the crops held in the pixel budget at once
            crop = CROP_SIZE**2 if cuts else 0  # the service cuts each frame's crop for some targets
            header = await read_header(sent, settings, params.selection, crop)
            async with request.app.state.pixels.hold(header.pixels + crop * len(header.used)):
                images, infos, used = await decode_frames(sent, settings, params.selection, header)
                frames = Frames(images, infos, used, header.info)
                validated = time.perf_counter()
                results = await _classify(request, chosen, frames, params.topk, cuts=False)
    video = VideoFacts(**dataclasses.asdict(frames.video)) if frames.video else None
    return SequenceResponse(
        frames=len(frames.images),
        frames_used=frames.used,
        video=video,
        results=results,
        request_timings=request_timings(start, validated),
    )


async def _classify(
    request: Request, targets: list[Target], frames: Frames, topk: int, cuts: bool
) -> list[ModelSequence]:
    """Every target's answer for the frames, at once; the frames' crops, where the service cuts them (`cuts`), held
    in the pixel budget (a video's are held with its decoding)."""
    probe = FramesProbe(frames.images, request.app.state.settings.image, frames.infos)
    pixels = frame_view_pixels([info.pixels for info in frames.infos]) if cuts else 0
    async with request.app.state.pixels.hold(pixels):
        return await gather_or_fail(sequence_target(target, probe, topk) for target in targets)
