"""Checks made before anything is sent to TorchServe: known models, a feasible plan, a decodable image."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool

from antialiased.images import decode_image
from antialiased.protocols import ShiftPlan, make_plan
from service.errors import ServiceError
from service.params import ProbeParams
from service.settings import Settings


def check_models(models: Iterable[str], settings: Settings) -> None:
    unknown = [name for name in models if name not in settings.models]
    if unknown:
        raise ServiceError(
            400, "unknown_model", f"unknown model {', '.join(unknown)}; served: {', '.join(settings.models)}"
        )


def plan_for(params: ProbeParams, settings: Settings) -> ShiftPlan:
    """The plan the parameters ask for, within the service's limits."""
    if params.top_k > settings.max_top_k:
        raise ServiceError(400, "invalid_parameter", f"top_k {params.top_k} exceeds the limit of {settings.max_top_k}")
    return make_plan(
        params.protocol,
        pairs=params.pairs,
        step=params.step,
        max_shift=params.max_shift,
        crop_size=params.crop_size,
        resize_size=params.resize_size,
        seed=params.seed,
        max_shifts=settings.max_shifts,
    )


async def check_image(image: bytes, settings: Settings) -> None:
    """Decode the image once (off the event loop) with the service's limits; a bad image is a 4xx here."""
    await run_in_threadpool(
        decode_image,
        image,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_pixels,
        min_side=settings.min_image_side,
    )
