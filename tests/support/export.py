"""What the export tests share: the sample photos as a batch, seeded networks, and (from benchmarks.spread_logits)
the scaling of a random classifier that makes a 1e-4 bound on probabilities mean something."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from antialiased.images import decode_image
from antialiased.transforms import preprocess
from benchmarks.spread_logits import spread_logits_
from tests.support.service import SAMPLES

PHOTOS = tuple(sorted(SAMPLES.glob("*.jpg")))

__all__ = ["PHOTOS", "Exported", "photo_batch", "seeded", "spread_logits_"]


class Exported(NamedTuple):
    """An eager network (eval mode) and its exported ONNX file."""

    model: nn.Module
    path: Path


def photo_batch(size: int = 224) -> torch.Tensor:
    """The sample photos, preprocessed as the paper's evaluation does: (3, 3, size, size)."""
    return torch.stack([preprocess(decode_image(path.read_bytes()), size) for path in PHOTOS])


def seeded(build: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    """`build()` under a fixed seed: the same random weights in every run."""
    torch.manual_seed(seed)
    return build()
