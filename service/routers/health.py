"""Liveness (/healthz), readiness with a real prediction per model (/readyz), Prometheus metrics (/metrics)."""

from __future__ import annotations

import asyncio
import io
import time
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from PIL import Image
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.dependencies import get_client, get_settings
from service.errors import ServiceError, error_response
from service.settings import Settings
from service.torchserve import TorchServeClient

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 10.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing about TorchServe)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Some model did not answer a real prediction"}})
async def readyz(
    settings: Annotated[Settings, Depends(get_settings)], client: Annotated[TorchServeClient, Depends(get_client)]
) -> JSONResponse:
    """Ready when TorchServe answers a real prediction for every configured model."""
    checks = await asyncio.gather(*(_check(client, model) for model in settings.models))
    models = dict(zip(settings.models, checks, strict=True))
    if all(check["ready"] for check in models.values()):
        return JSONResponse({"status": "ready", "models": models})
    failing = ", ".join(name for name, check in models.items() if not check["ready"])
    return error_response(503, "not_ready", f"no prediction from: {failing}", {"models": models})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of the service's own metrics."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _check(client: TorchServeClient, model: str) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        answer = await client.predict(model, _probe_image(), topk=1, timeout_s=READY_TIMEOUT_S)
    except ServiceError as error:
        return {"ready": False, "code": error.code, "message": error.message}
    return {
        "ready": True,
        "ms": round((time.perf_counter() - start) * 1000, 1),
        "weights": answer.get("weights"),
        "top1": (answer.get("topk") or [None])[0],
    }


@cache
def _probe_image() -> bytes:
    """A small synthetic JPEG (a colour gradient) for readiness predictions."""
    image = Image.linear_gradient("L").resize((256, 256)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
