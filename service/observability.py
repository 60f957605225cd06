"""Prometheus metrics of the probe service: requests and latency by endpoint and status, TorchServe errors, what
the admission budgets hold, how the scheduler shares heavy work."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.admission import Budget

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
            "Time of one TorchServe call, retries included (a probe's chunks together), by purpose (probe, readiness)",
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

        self.chunks = Counter(
            "probe_scheduler_chunks",
            "Chunks of probes sent to a model in their turns",
            ["model"],
            registry=self.registry,
        )
        self.probes_refused = Counter(
            "probe_scheduler_refused",
            "Probes refused before anything was sent, by reason (client: its budget; queued: all; deadline)",
            ["reason"],
            registry=self.registry,
        )
        self.probes_abandoned = Counter(
            "probe_scheduler_abandoned",
            "Probes stopped before their end, by reason (client_gone, deadline): their chunks not yet sent never are",
            ["reason"],
            registry=self.registry,
        )
        self.turns_waiting = Gauge(
            "probe_scheduler_turns_waiting", "Chunks waiting for their turn at a model", registry=self.registry
        )
        self.view_pixels_queued = Gauge(
            "probe_scheduler_view_pixels_queued",
            "View pixels of the admitted probes' chunks not yet answered",
            registry=self.registry,
        )
        self.budget_in_use = Gauge(
            "probe_budget_in_use",
            "Units reserved by requests in flight, by budget (upload_bytes: declared request bodies; decoded_pixels)",
            ["budget"],
            registry=self.registry,
        )
        self.budget_waiting = Gauge(
            "probe_budget_waiting", "Requests waiting for room in a budget", ["budget"], registry=self.registry
        )

    def watch(self, name: str, budget: Budget) -> None:
        """Report `budget`'s units in use and its waiting requests under the label `name`."""
        self.budget_in_use.labels(name).set_function(lambda: budget.in_use)
        self.budget_waiting.labels(name).set_function(lambda: budget.waiting)


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
