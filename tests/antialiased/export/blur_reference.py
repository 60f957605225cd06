"""An independent reference of the paper's blur, in numpy and float64, written from the facts of the published
layer (shared/reference/facts.md), not from antialiased.blurpool: binomial taps, the outer product normalised to
sum 1, padding (floor((k-1)/2), ceil((k-1)/2)) on both sides of both axes, then a per-channel correlation with
`stride`; filter size 1 is plain subsampling."""

from __future__ import annotations

import numpy as np

TAPS = {
    1: [1],
    2: [1, 1],
    3: [1, 2, 1],
    4: [1, 3, 3, 1],
    5: [1, 4, 6, 4, 1],
    6: [1, 5, 10, 10, 5, 1],
    7: [1, 6, 15, 20, 15, 6, 1],
}
NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "zero": "constant"}


def blur(x: np.ndarray, filt_size: int, pad_type: str, stride: int) -> np.ndarray:
    """(N, C, H, W) -> the blurred, subsampled (N, C, H', W'), float64."""
    taps = np.array(TAPS[filt_size], np.float64)
    kernel = np.outer(taps, taps) / taps.sum() ** 2
    before, after = (filt_size - 1) // 2, filt_size // 2  # floor and ceil of (k - 1) / 2
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (before, after), (before, after)), NUMPY_PAD_MODES[pad_type])
    rows = (padded.shape[2] - filt_size) // stride + 1
    cols = (padded.shape[3] - filt_size) // stride + 1
    out = np.zeros((*x.shape[:2], rows, cols))
    for i in range(filt_size):
        for j in range(filt_size):
            out += kernel[i, j] * padded[:, :, i : i + stride * rows : stride, j : j + stride * cols : stride]
    return out
