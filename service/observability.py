"""Prometheus metrics of the probe service: requests and latency by endpoint and status, TorchServe errors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

# The `method` label's values: the methods of RFC 9110 (and PATCH); any other is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServiceMetrics:
    """The service's collectors, in a registry of their own (one per app, so tests can run several apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "probe_http_requests", "HTTP requests answered", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "probe_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.torchserve_latency = Histogram(
            "probe_torchserve_request_duration_seconds",
            "Time of one TorchServe prediction request, retries included, by purpose (probe or readiness)",
            ["model", "purpose"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.torchserve_retries = Counter(
            "probe_torchserve_retries",
            "TorchServe requests sent again, by what the previous try got (503, 507, unreachable)",
            ["model", "reason"],
            registry=self.registry,
        )
        self.torchserve_errors = Counter(
            "probe_torchserve_errors",
            "Failed TorchServe requests by reason",
            ["model", "reason"],
            registry=self.registry,
        )


def install_request_metrics(app: FastAPI, metrics: ServiceMetrics) -> None:
    """Count and time every request, labelled by its route template, its method and its status (each from a
    bounded set)."""

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            method = request.method if request.method in METHODS else "other"
            metrics.requests.labels(endpoint, method, str(status)).inc()
            metrics.latency.labels(endpoint, str(status)).observe(time.perf_counter() - start)
