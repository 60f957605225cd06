"""The probe API: one model's stability (/v1/stability), several models side by side (/v1/compare)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from antialiased.contract import ErrorBody
from antialiased.errors import ApiError, ErrorCode
from antialiased.protocols import PROTOCOL_DESCRIPTIONS, PROTOCOLS
from service.admission import Budget
from service.dependencies import get_client, get_settings, require_api_key
from service.params import MULTIPART_SCHEMA, CompareParams, StabilityParams, read_upload, upload_size
from service.probing import probe_model
from service.schemas import CompareResponse, Plan, RequestTimings, ServiceConfig, StabilityResponse
from service.settings import Settings
from service.torchserve import TorchServeClient
from service.validation import check_image, check_models, plan_for

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


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad parameter or image (code names it)",
        401: "Missing or wrong API key",
        408: "The request body did not arrive in time",
        413: "Upload or image too large",
        502: "TorchServe failed",
        503: "TorchServe unreachable, or the service or TorchServe overloaded (see Retry-After)",
        504: "TorchServe too slow",
    }.items()
}


_POST_OPTIONS: dict[str, Any] = {
    "responses": _ERRORS,
    "openapi_extra": _IMAGE_BODY,
    "dependencies": [Depends(require_api_key)],
}


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientDep = Annotated[TorchServeClient, Depends(get_client)]


def _uploads(request: Request) -> Budget:
    return request.app.state.uploads


@router.post("/stability", response_model=StabilityResponse, **_POST_OPTIONS)
async def stability(
    request: Request, params: Annotated[StabilityParams, Query()], settings: SettingsDep, client: ClientDep
) -> StabilityResponse:
    """Probe one served model: its top-k at every offset of the protocol, the stability score and metrics."""
    start = time.perf_counter()
    async with _uploads(request).hold(upload_size(request, settings.max_upload_bytes)):
        image, params = await read_upload(request, params, settings.max_upload_bytes, settings.body_timeout_s)
        model = params.model or settings.probe_model
        check_models([model], settings)
        plan = plan_for(params, settings)
        check_image(image, settings)
        validated = time.perf_counter()
        result = await probe_model(client, model, image, plan, params.top_k)
    return StabilityResponse(**dict(result), plan=Plan(**plan.to_json()), request_timings=_timings(start, validated))


@router.post("/compare", response_model=CompareResponse, **_POST_OPTIONS)
async def compare(
    request: Request, params: Annotated[CompareParams, Query()], settings: SettingsDep, client: ClientDep
) -> CompareResponse:
    """Probe several served models with the same image and the same offsets, side by side."""
    start = time.perf_counter()
    async with _uploads(request).hold(upload_size(request, settings.max_upload_bytes)):
        image, params = await read_upload(request, params, settings.max_upload_bytes, settings.body_timeout_s)
        models = list(dict.fromkeys(params.models or settings.models))
        if len(models) > settings.max_compare_models:
            raise ApiError(
                ErrorCode.TOO_MANY_MODELS, f"{len(models)} models exceed the limit of {settings.max_compare_models}"
            )
        check_models(models, settings)
        plan = plan_for(params, settings)
        check_image(image, settings)
        validated = time.perf_counter()
        results = await asyncio.gather(*(probe_model(client, m, image, plan, params.top_k) for m in models))
    return CompareResponse(
        plan=Plan(**plan.to_json()), results=list(results), request_timings=_timings(start, validated)
    )


@router.get("/config", response_model=ServiceConfig)
async def config(settings: SettingsDep) -> ServiceConfig:
    """The models, protocols and limits of this service (the page reads them)."""
    return ServiceConfig(
        models=list(settings.models),
        default_model=settings.probe_model,
        protocols=list(PROTOCOLS),
        protocol_descriptions=PROTOCOL_DESCRIPTIONS,
        max_shifts=settings.max_shifts,
        max_top_k=settings.max_top_k,
        max_upload_bytes=settings.max_upload_bytes,
        api_key_required=settings.api_key is not None,
        api_key_header=settings.api_key_header,
    )


def _timings(start: float, validated: float) -> RequestTimings:
    now = time.perf_counter()
    return RequestTimings(validate_ms=(validated - start) * 1000, total_ms=(now - start) * 1000)
