"""The probe service's settings of heavy work shared fairly (`service.scheduler`): probes go to our handler in chunks,
in fair turns, within per-client and global budgets and a deadline. `service.settings.Settings` holds them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from antialiased.shifts import MAX_CROP_SIZE, MAX_VIEW_PIXELS_PER_REQUEST


class SchedulingSettings(BaseSettings):
    """How probes' heavy work is chunked, budgeted and scheduled (see `service.scheduler`)."""

    scheduling: bool = Field(
        True,
        description="Probes' shift requests to our handler go in chunks of PROBE_CHUNK_VIEW_PIXELS, in fair turns; "
        "off: each probe is one request, as before (benchmarks/bench_scheduling.py compares the two).",
    )
    chunk_view_pixels: int = Field(
        MAX_VIEW_PIXELS_PER_REQUEST,
        ge=MAX_CROP_SIZE**2,
        description="View pixels (views x crop area) of one chunk; at most the handler's max_view_pixels_per_request.",
    )
    chunks_in_flight: int = Field(
        1,
        ge=1,
        description="Chunks' worth of view pixels at one model at once, all probes together (small probes share it): "
        "a plain classification waits behind about this many chunks; raise it with TorchServe's workers.",
    )
    max_view_pixels_per_client: int | None = Field(
        None,
        ge=1,
        description="View pixels of one client address's probes not yet done (beyond: 503); default: the costliest "
        "request, PROBE_MAX_COMPARE_MODELS x PROBE_MAX_OFFSETS views of 512 x 512.",
    )
    max_view_pixels_queued: int | None = Field(
        None, ge=1, description="View pixels of all probes not yet done (beyond: 503); default: 4 clients' worth."
    )
    deadline_s: float = Field(
        120.0,
        gt=0,
        description="Longest time one probe may take, waiting included: a probe that would take longer at the "
        "throughput measured is refused at once (503 with Retry-After); one still running then is stopped (504).",
    )
