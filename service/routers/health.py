"""Liveness (/healthz), readiness from recent real predictions (/readyz), Prometheus metrics (/metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from antialiased.errors import ApiError, ErrorCode
from service.errors import error_response

router = APIRouter(tags=["health"])
LIVENESS_PATH = "/healthz"  # answered even beyond the open-connection limit (service.connections)


@router.get(LIVENESS_PATH)
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing about TorchServe)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Some model has not answered a real prediction lately"}})
async def readyz(request: Request) -> JSONResponse:
    """Ready when every configured model answered a real prediction lately (see service.readiness); never waits."""
    problem, models = request.app.state.readiness.report()
    if problem is None:
        return JSONResponse({"status": "ready", "models": models})
    return error_response(ApiError(ErrorCode.NOT_READY, problem, 503, detail={"models": models}))


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of the service's own metrics."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
