"""Readiness means a real prediction: the image every readiness check sends and what a good answer is.

TorchServe's /ping says "Healthy" while every worker is dead, so `make run`, the tests, the container health
checks and the probe service's /readyz all ask each model to classify `readiness_image()` instead.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image
from pydantic import ValidationError

from antialiased.serving.contract import Classification


@functools.cache
def readiness_image() -> bytes:
    """A small, valid JPEG (a colour gradient) for readiness predictions."""
    ramp = np.linspace(0, 255, 64, dtype=np.uint8)
    pixels = np.stack([np.tile(ramp, (64, 1)), np.tile(ramp[:, None], (1, 64)), np.full((64, 64), 128, np.uint8)], -1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def prediction_problem(status: int, content: bytes) -> str | None:
    """None when (status, content) is a good answer to a readiness prediction, else what is wrong with it."""
    if status != 200:
        return f"HTTP {status}: {content[:300]!r}"
    try:
        answer = Classification.model_validate_json(content)
    except ValidationError as error:
        return f"not a classification: {error.error_count()} problems, e.g. {error.errors()[0]['msg']}"
    return None if answer.topk else "an empty top-k"
