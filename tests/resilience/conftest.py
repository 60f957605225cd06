"""A TorchServe of its own for the attacks (the session's TorchServe stays undisturbed): the tiny circular-invariant
model with small limits, so that decoding, not the model, dominates, and a short job queue, beside the tiny
white-intolerant model (its forward pass fails on an all-white view); probe services in front of it with the
settings each test needs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from antialiased.weights import save_checkpoint
from archives.archive import build_archive
from launcher.probe import ServiceProcess, start_service
from launcher.torchserve import TorchServe, start_torchserve
from tests.models import circular_invariant, white_intolerant
from tests.served_models import CIRCULAR_MODEL, MODEL_SPECS

WHITE_INTOLERANT_MODEL = "white_intolerant"
MAX_IMAGE_PIXELS = 8_000_000  # the largest accepted image here (50 MP in production)
MAX_PIXELS_PER_BATCH = 18_000_000  # two largest images and room for small ones
OIP_WAVES = 4
MAX_CROP_SIZE = 512
MAX_VIEW_PIXELS_PER_FORWARD = MAX_CROP_SIZE**2  # one largest view per forward pass
MAX_VIEW_PIXELS_PER_BATCH = 16 * MAX_CROP_SIZE**2  # sixteen largest views per batch
JOB_QUEUE_SIZE = 16
LIMITS = {
    "max_image_pixels": MAX_IMAGE_PIXELS,
    "max_pixels_per_batch": MAX_PIXELS_PER_BATCH,
    "max_crop_size": MAX_CROP_SIZE,
    "max_view_pixels_per_forward": MAX_VIEW_PIXELS_PER_FORWARD,
    "max_view_pixels_per_batch": MAX_VIEW_PIXELS_PER_BATCH,
}
OVERRIDES = {"batchSize": 8, "maxBatchDelay": 50, "handler": {"device": "cpu", "limits": LIMITS}}


def black_png(pixels: int) -> bytes:
    """The attacker's file: a black square of about `pixels` pixels, a few kB to a few hundred kB of PNG."""
    side = int(pixels**0.5)
    buffer = io.BytesIO()
    Image.new("RGB", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="package")
def fragile_torchserve(
    tmp_path_factory: pytest.TempPathFactory, served_checkpoints: dict[str, Path]
) -> Iterator[TorchServe]:
    store = tmp_path_factory.mktemp("fragile_store")
    build_archive(
        CIRCULAR_MODEL,
        store=store,
        weights_path=served_checkpoints[CIRCULAR_MODEL],
        model=MODEL_SPECS[CIRCULAR_MODEL],
        weights_name=None,
        untrained=True,
        overrides=OVERRIDES,
        extra_files=[Path(circular_invariant.__file__)],
    )
    torch.manual_seed(0)
    weights = tmp_path_factory.mktemp("fragile_weights")
    build_archive(
        WHITE_INTOLERANT_MODEL,
        store=store,
        weights_path=save_checkpoint(white_intolerant.WhiteIntolerant(), weights, "white_intolerant_random"),
        model=white_intolerant.model_spec(),
        weights_name=None,
        untrained=True,
        overrides={**OVERRIDES, "handler": {**OVERRIDES["handler"], **white_intolerant.OVERRIDES["handler"]}},
        extra_files=[Path(white_intolerant.__file__)],
    )
    workdir = tmp_path_factory.mktemp("fragile_torchserve")
    models = [CIRCULAR_MODEL, WHITE_INTOLERANT_MODEL]
    log_file = workdir / "torchserve.out"
    server = start_torchserve(store, models, workdir, job_queue_size=JOB_QUEUE_SIZE, log_file=log_file)
    try:
        server.wait_until_ready(240)
        yield server
    finally:
        server.stop()


def start_probe(torchserve: TorchServe, log_file: Path, **env: str) -> ServiceProcess:
    """A probe service for the circular-invariant model of `torchserve`, with `env` (PROBE_* settings)."""
    settings = {
        "PROBE_MODELS": CIRCULAR_MODEL,
        "PROBE_TORCHSERVE_MANAGEMENT_URL": torchserve.management_url,
        "PROBE_MAX_PIXELS": str(MAX_IMAGE_PIXELS),
        # As in production: waves of what one batch of the handler decodes, 4 of them at most per /v2 request.
        "PROBE_OIP_PIXELS_AT_ONCE": str(MAX_PIXELS_PER_BATCH),
        "PROBE_OIP_MAX_PIXELS": str(OIP_WAVES * MAX_PIXELS_PER_BATCH),
        **env,
    }
    return start_service(torchserve.inference_url, env=settings, log_file=log_file)
