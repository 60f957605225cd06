"""What the attack tests share: the fragile TorchServe's small limits, the attacker's file, a probe service in front of
that TorchServe (the fixture `fragile_torchserve` is in tests/resilience/conftest.py)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from launcher.probe_service import ServiceProcess, start_service
from launcher.torchserve import TorchServe
from tests.support.served_models import CIRCULAR_MODEL

WHITE_INTOLERANT_MODEL = "white_intolerant"
MAX_IMAGE_PIXELS = 8_000_000  # the largest accepted image here (50 MP in production)
MAX_PIXELS_PER_BATCH = 18_000_000  # two largest images and room for small ones
OIP_WAVES = 4
MAX_CROP_SIZE = 512
MAX_VIEW_PIXELS_PER_FORWARD = MAX_CROP_SIZE**2  # one largest view per forward pass
MAX_VIEW_PIXELS_PER_BATCH = 16 * MAX_CROP_SIZE**2  # sixteen largest views per batch
JOB_QUEUE_SIZE = 16
LIMITS = {
    "image": {"max_pixels": MAX_IMAGE_PIXELS},
    "max_pixels_per_batch": MAX_PIXELS_PER_BATCH,
    "max_crop_size": MAX_CROP_SIZE,
    "max_view_pixels_per_forward": MAX_VIEW_PIXELS_PER_FORWARD,
    "max_view_pixels_per_batch": MAX_VIEW_PIXELS_PER_BATCH,
    "max_view_pixels_per_request": MAX_VIEW_PIXELS_PER_BATCH,
}
OVERRIDES = {"batchSize": 8, "maxBatchDelay": 50, "handler": {"device": "cpu", "limits": LIMITS}}


def black_png(pixels: int) -> bytes:
    """The attacker's file: a black square of about `pixels` pixels, a few kB to a few hundred kB of PNG."""
    side = int(pixels**0.5)
    buffer = io.BytesIO()
    Image.new("RGB", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process `pid` has used so far: what a blocked event loop spends."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def start_probe(torchserve: TorchServe, log_file: Path, **env: str) -> ServiceProcess:
    """A probe service for the circular-invariant model of `torchserve`, with `env` (PROBE_* settings)."""
    settings = {
        "PROBE_MODELS": CIRCULAR_MODEL,
        "PROBE_TORCHSERVE_MANAGEMENT_URL": torchserve.management_url,
        "PROBE_IMAGE__MAX_PIXELS": str(MAX_IMAGE_PIXELS),
        # As in production: waves of what one batch of the handler decodes, 4 of them at most per /v2 request.
        "PROBE_OIP_PIXELS_AT_ONCE": str(MAX_PIXELS_PER_BATCH),
        "PROBE_OIP_MAX_PIXELS": str(OIP_WAVES * MAX_PIXELS_PER_BATCH),
        **env,
    }
    return start_service(torchserve.inference_url, env=settings, log_file=log_file)
