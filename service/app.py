"""The FastAPI application: settings, the lifetime of the TorchServe client, the readiness monitor and the probe
targets, the upload and pixel budgets, the scheduler of heavy work, routers, error handling, metrics, HEAD for every
GET route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

import antialiased
from service.admission import Budget
from service.allocator import map_large_buffers
from service.errors import install_error_handlers
from service.label_sets import LabelSets
from service.observability import ServiceMetrics, install_request_metrics
from service.openapi import state_settings_in_schema
from service.readiness import ReadinessMonitor
from service.routers import health, oip, page, sequence, stability
from service.routers.page import STATIC_DIR
from service.scheduler import Scheduler
from service.settings import Settings
from service.targets.registry import build_targets
from service.torchserve_client import TorchServeClient


def create_app(settings: Settings | None = None) -> FastAPI:
    """The probe service for `settings` (default: from the environment)."""
    settings = settings or Settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        map_large_buffers()
        readiness = app.state.readiness = ReadinessMonitor(settings)
        app.state.torchserve = TorchServeClient(
            settings, metrics, observer=readiness.observe, restarts=readiness.restarts
        )
        app.state.uploads = Budget(
            settings.max_upload_bytes_in_flight,
            settings.admission_wait_s,
            "upload bytes",
            share=settings.upload_bytes_per_client,
        )
        app.state.pixels = Budget(settings.max_pixels_in_flight, settings.admission_wait_s, "decoded pixels")
        metrics.watch("upload_bytes", app.state.uploads)
        metrics.watch("decoded_pixels", app.state.pixels)
        app.state.scheduler = Scheduler(
            metrics,
            view_pixels_in_flight=settings.chunks_in_flight * settings.chunk_view_pixels,
            view_pixels_per_client=settings.view_pixels_per_client,
            view_pixels_queued=settings.view_pixels_queued,
            deadline_s=settings.deadline_s,
        )
        app.state.targets = build_targets(settings, app.state.torchserve, metrics)
        app.state.label_sets = LabelSets(app.state.torchserve, settings.ready_timeout_s)
        readiness.start(app.state.torchserve)
        try:
            yield
        finally:
            await readiness.stop()
            for target in app.state.targets.values():
                await target.aclose()
            await app.state.torchserve.aclose()

    app = FastAPIOffline(
        title="Shift-stability probe",
        description="Probes how the predictions of TorchServe-served models change under small image shifts.",
        version=antialiased.__version__,
        lifespan=lifespan,
        # Starlette builds a slash redirect's URL from the request's Host header: an open redirect.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    install_request_metrics(app, metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", settings.api_key_header],
        )
    app.include_router(stability.router)
    app.include_router(sequence.router)
    app.include_router(health.router)
    app.include_router(oip.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(HeadAsGet)
    state_settings_in_schema(app, settings)
    return app


class HeadAsGet:
    """HEAD answered as GET (FastAPI's GET routes do not take HEAD); the server sends the headers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)
