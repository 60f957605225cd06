"""Confidence intervals for figures that are means over images, and for paired differences between models.

Every figure is the mean over images of a per-image value in [0, 1]: 0/1 for accuracy, the fraction of
agreeing pairs (or of correct diagonal crops) for the others. Images are the independent units, so
the passes of one image are never counted as independent samples.
- per-image values that are all 0 or 1 (accuracy): Wilson's score interval, which stays inside [0, 1]
  and does not collapse to a point at 0% or 100%;
- fractions: the normal interval mean ± z·s/√n with the sample standard deviation s of the per-image values;
- paired differences (model A − model B on the same images and offsets): the normal interval of the
  per-image differences, so the shared variation of the images cancels;
- a mean of values of another range (`percent=False`: a sequence's mean top-5 distance, 0 to 15): as it is, not
  in percent, with the normal interval, never below 0.
For a folder of sequences the sequences are the units, as images are otherwise.
In the paper's mode one offset pair is shared by a batch, which correlates its images a little: the
interval there is slightly too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


@dataclass(frozen=True)
class Estimate:
    """A figure in percent with its 95% confidence interval, over `n` images."""

    value: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, float | int | None]:
        """value, ci_low, ci_high (None when unknown, e.g. p(true class) a served model did not report), n."""
        known = {
            k: None if math.isnan(v) else v
            for k, v in (("value", self.value), ("ci_low", self.low), ("ci_high", self.high))
        }
        return {**known, "n": self.n}

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def mean_estimate(values: np.ndarray, *, percent: bool = True) -> Estimate:
    """Mean of per-image values in [0, 1], in percent, with its 95% interval (see the module docstring); with
    `percent=False` the mean of non-negative values of any size, as it is."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0 or np.isnan(values).any():
        return Estimate(math.nan, math.nan, math.nan, n)
    mean = float(values.mean())
    if not percent:
        low, high = _normal(values)
        return Estimate(mean, min(max(low, 0.0), mean), max(high, mean), n)
    if np.isin(values, (0.0, 1.0)).all():
        low, high = _wilson(mean, n)
    else:
        low, high = _normal(values)
        low, high = max(low, 0.0), min(high, 1.0)
    # min/max: float rounding must not put a 100% estimate above its own interval
    return Estimate(100 * mean, 100 * min(low, mean), 100 * max(high, mean), n)


def paired_difference(a: np.ndarray, b: np.ndarray, *, percent: bool = True) -> Estimate:
    """Mean of a − b over the same images, in percentage points (as it is with `percent=False`), with its 95%
    interval."""
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(differences) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    low, high = _normal(differences)
    scale = 100 if percent else 1
    return Estimate(scale * float(differences.mean()), scale * low, scale * high, len(differences))


def _wilson(p: float, n: int) -> tuple[float, float]:
    z2 = Z95 * Z95
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, center - half), min(1.0, center + half)


def _normal(values: np.ndarray) -> tuple[float, float]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean
    half = Z95 * float(values.std(ddof=1)) / math.sqrt(len(values))
    return mean - half, mean + half
