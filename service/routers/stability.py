"""The probe API: one model's stability (/v1/stability), several models side by side (/v1/compare)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from antialiased.imagefile import ImageInfo
from antialiased.protocols import PROTOCOL_DESCRIPTIONS, PROTOCOLS, ProbeSpec, ShiftPlan
from antialiased.sequences import SEQUENCE_DESCRIPTION
from service.dependencies import LabelSetsDep, SettingsDep, TargetsDep, require_api_key
from service.errors import PROBE_ERRORS
from service.label_sets import LabelSets
from service.params import (
    MULTIPART_SCHEMA,
    CompareParams,
    Params,
    StabilityParams,
    client_address,
    read_upload,
    upload_lease,
)
from service.probing import probe_target
from service.schemas import (
    CompareResponse,
    ModelProbe,
    Plan,
    RequestTimings,
    ServiceConfig,
    StabilityResponse,
    request_timings,
)
from service.settings import Settings
from service.target_settings import LabelledConfig
from service.targets.base import ProbeImage, Target
from service.tasks import gather_or_fail, while_client_waits
from service.validation import check_image, check_models, compared_models, plan_for
from service.views import view_pixels

router = APIRouter(prefix="/v1", tags=["probe"])


_IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The image: raw bytes as the body, or multipart with the file in field `image`. Parameters go "
        "in the query string (with multipart they may also be form fields, but not both).",
        "content": {
            "multipart/form-data": {"schema": MULTIPART_SCHEMA, "encoding": {"image": {"contentType": "image/*"}}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


_POST_OPTIONS: dict[str, Any] = {
    "responses": PROBE_ERRORS,
    "openapi_extra": _IMAGE_BODY,
    "dependencies": [Depends(require_api_key)],
}


@router.post("/stability", response_model=StabilityResponse, **_POST_OPTIONS)
async def stability(
    request: Request, params: Annotated[StabilityParams, Query()], settings: SettingsDep, targets: TargetsDep
) -> StabilityResponse:
    """Probe one target: its top-k at every offset of the protocol, the stability score and metrics."""
    (result,), plan, timings = await _probe_request(
        request, params, settings, targets, lambda given: [given.model or settings.probe_model]
    )
    return StabilityResponse(**dict(result), plan=Plan(**plan.to_json()), request_timings=timings)


@router.post("/compare", response_model=CompareResponse, **_POST_OPTIONS)
async def compare(
    request: Request, params: Annotated[CompareParams, Query()], settings: SettingsDep, targets: TargetsDep
) -> CompareResponse:
    """Probe several targets with the same image and the same offsets, side by side."""

    def models_of(given: CompareParams) -> list[str]:
        return compared_models(given.models, settings, targets)

    results, plan, timings = await _probe_request(request, params, settings, targets, models_of)
    return CompareResponse(plan=Plan(**plan.to_json()), results=results, request_timings=timings)


async def _probe_request(
    request: Request,
    params: Params,
    settings: Settings,
    targets: dict[str, Target],
    models_of: Callable[[Params], list[str]],
) -> tuple[list[ModelProbe], ShiftPlan, RequestTimings]:
    """Read the upload (its bytes held in the upload budget), check the models `models_of` the parameters name,
    the plan and the image header, then probe them all: their results, the plan, the timings."""
    start = time.perf_counter()
    async with upload_lease(request) as lease:
        image, params = await read_upload(request, params, settings.image.max_bytes, settings.body_deadlines, lease)
        models = models_of(params)
        check_models(models, settings)
        plan = plan_for(params, settings)
        info = check_image(image, settings)
        validated = time.perf_counter()
        results = await _probe(request, [targets[model] for model in models], image, info, plan, params.topk)
    return results, plan, request_timings(start, validated)


@router.get("/config", response_model=ServiceConfig)
async def config(settings: SettingsDep, targets: TargetsDep, label_sets: LabelSetsDep) -> ServiceConfig:
    """The models (with their classes), protocols and limits of this service (the page reads them)."""
    return ServiceConfig(
        models=settings.target_names,
        labels=await target_labels(targets, label_sets),
        default_model=settings.probe_model,
        protocols=list(PROTOCOLS),
        protocol_descriptions=PROTOCOL_DESCRIPTIONS,
        protocol_max_shift={name: ProbeSpec(protocol=name).shift_range for name in PROTOCOLS},
        max_offsets=settings.max_offsets,
        max_shifts=settings.max_offsets,
        max_topk=settings.max_topk,
        max_upload_bytes=settings.image.max_bytes,
        sequence=settings.sequence.model_copy(update={"max_bytes": settings.sequence_max_bytes}),
        sequence_description=SEQUENCE_DESCRIPTION,
        api_key_required=settings.api_key is not None,
        api_key_header=settings.api_key_header,
    )


async def target_labels(targets: dict[str, Target], label_sets: LabelSets) -> dict[str, list[str] | None]:
    """Each target's class names: our models' label sets as the handler tells them (null while TorchServe cannot),
    the other targets' as configured."""

    async def names(target: Target) -> list[str] | None:
        if isinstance(target.config, LabelledConfig):
            return list(target.config.labels)
        return await label_sets.names(target.config.served_name)

    found = await asyncio.gather(*(names(target) for target in targets.values()))
    return dict(zip(targets, found, strict=True))


async def _probe(
    request: Request, targets: list[Target], image: bytes, info: ImageInfo, plan: ShiftPlan, topk: int
) -> list[ModelProbe]:
    """Every target's probe of the same image and offsets, at once, admitted by the scheduler (for the targets it
    schedules: service.scheduler) and stopped when the client goes or the deadline passes. The views are cut once
    for the targets that need them, while the image's decoded pixels and its views are held in the pixel budget."""
    state = request.app.state
    costs = {t.name: plan.request.view_pixels for t in targets if t.scheduled} if state.settings.scheduling else {}
    with state.scheduler.admit(client_address(request), costs) as ticket:
        probe = ProbeImage(image, plan.request, state.settings.image, info, ticket if costs else None)
        pixels = view_pixels(info.pixels, plan.request) if any(target.cuts_views for target in targets) else 0
        async with state.pixels.hold(pixels):
            work = gather_or_fail(probe_target(target, probe, plan, topk) for target in targets)
            abandoned = state.metrics.probes_abandoned.labels
            return await while_client_waits(
                request, work, ticket.deadline if costs else None, lambda r: abandoned(r).inc()
            )
