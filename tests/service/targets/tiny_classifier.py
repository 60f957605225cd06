"""A small numpy classifier (10 classes, seeded weights) that the KServe model server of the tests hosts, and that
the tests run in-process on the same crops. Numpy only: it also runs in the separate KServe venv."""

from __future__ import annotations

import numpy as np

LABELS = tuple(f"class-{index}" for index in range(10))
MEAN = np.array((0.485, 0.456, 0.406), np.float32)
STD = np.array((0.229, 0.224, 0.225), np.float32)
GRID = 8  # the normalised image is averaged over a GRID x GRID grid of cells: 3 * 64 features
_WEIGHTS = np.random.default_rng(0).standard_normal((3 * GRID * GRID, len(LABELS))) * 4


def normalize(pixels: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) uint8 -> (n, 3, h, w) float32, (pixels / 255 - mean) / std (the library's normalisation)."""
    return ((pixels.astype(np.float32) / np.float32(255.0) - MEAN) / STD).transpose(0, 3, 1, 2)


def probabilities(images: np.ndarray) -> np.ndarray:
    """(n, 3, h, w) normalised float32, h and w multiples of GRID -> (n, 10) float32 class probabilities.

    Computed in float64, so that the result depends on the input's values only, not on the batch size or the
    memory layout (which change the rounding of float32 sums)."""
    n, channels, height, width = images.shape
    cells = images.astype(np.float64).reshape(n, channels, GRID, height // GRID, GRID, width // GRID).mean(axis=(3, 5))
    logits = cells.reshape(n, -1) @ _WEIGHTS
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exponentials / exponentials.sum(axis=1, keepdims=True)).astype(np.float32)
