"""The sequence probe (/v1/sequence): several frames in one multipart body, classified by several targets side by
side, scored from frame to frame (`antialiased.sequences`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from service.dependencies import SettingsDep, TargetsDep, require_api_key
from service.errors import PROBE_ERRORS
from service.frames import FRAME_FIELD, SEQUENCE_BODY_SCHEMA, Frames, SequenceParams, read_frames
from service.params import upload_lease
from service.probing import sequence_target
from service.schemas import ModelSequence, SequenceResponse, request_timings
from service.targets.base import FramesProbe, Target
from service.tasks import gather_or_fail
from service.validation import check_models, compared_models
from service.views import frame_view_pixels

router = APIRouter(prefix="/v1", tags=["probe"])

_FRAMES_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The frames, in order: a multipart body with each image file in a field `{FRAME_FIELD}`. "
        "Parameters go in the query string or as form fields (not both).",
        "content": {
            "multipart/form-data": {
                "schema": SEQUENCE_BODY_SCHEMA,
                "encoding": {FRAME_FIELD: {"contentType": "image/*"}},
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
    """Classify every frame of a sequence with each target: the top-k per frame, the flip rate, the mean top-5
    distance and the wobble over consecutive frames."""
    start = time.perf_counter()
    async with upload_lease(request) as lease:
        frames, params = await read_frames(request, params, settings, lease)
        models = compared_models(params.models, settings, targets)
        check_models(models, settings)
        validated = time.perf_counter()
        results = await _classify(request, [targets[model] for model in models], frames, params.topk)
    return SequenceResponse(
        frames=len(frames.images), results=results, request_timings=request_timings(start, validated)
    )


async def _classify(request: Request, targets: list[Target], frames: Frames, topk: int) -> list[ModelSequence]:
    """Every target's answer for the frames, at once; the frames' crops, where the service cuts them, held in the
    pixel budget."""
    probe = FramesProbe(frames.images, request.app.state.settings.image, frames.infos)
    cuts = any(target.cuts_views for target in targets)
    pixels = frame_view_pixels([info.pixels for info in frames.infos]) if cuts else 0
    async with request.app.state.pixels.hold(pixels):
        return await gather_or_fail(sequence_target(target, probe, topk) for target in targets)
