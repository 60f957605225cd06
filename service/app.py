"""The FastAPI application: settings, the TorchServe client's lifetime, routers, error handling, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from service.errors import install_error_handlers
from service.observability import ServiceMetrics, install_request_metrics
from service.routers import health, page, probe
from service.routers.page import STATIC_DIR
from service.settings import Settings
from service.torchserve import TorchServeClient


def create_app(settings: Settings | None = None) -> FastAPI:
    """The probe service for `settings` (default: from the environment)."""
    settings = settings or Settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.torchserve = TorchServeClient(settings, metrics)
        try:
            yield
        finally:
            await app.state.torchserve.aclose()

    app = FastAPIOffline(
        title="Shift-stability probe",
        description="Probes how the predictions of TorchServe-served models change under small image shifts.",
        version="0.1.0",
        lifespan=lifespan,
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
    app.include_router(probe.router)
    app.include_router(health.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
