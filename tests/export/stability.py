"""The probes of the shift-stability comparisons: one spec per protocol the issue names, small enough for the CPU,
and the comparison of two probes' metrics (top-1-based ones equal, probability-based ones within the bound)."""

from __future__ import annotations

import dataclasses

import pytest

from antialiased.export.parity import PROBABILITY_TOLERANCE
from antialiased.metrics import OriginMetrics, StabilityMetrics
from antialiased.protocols import ProbeSpec

PROBES = {
    "paper": ProbeSpec(protocol="paper", pairs=4, seed=3),
    "diagonal": ProbeSpec(protocol="diagonal", max_shift=4),
    "fractional": ProbeSpec(protocol="fractional"),  # (t, t) for t = 0, 0.25, ..., 1: five Fourier-shifted views
    "worst-case": ProbeSpec(protocol="worst-case", max_shift=1),  # the 3 x 3 window of crops around the centre
}
# Metrics that are probabilities (or their means, or curves of them); the others count top-1 or top-5 agreements
# (or name the view where a probability is least) and must be equal.
PROBABILITY_METRICS = {"mean_abs_delta_p", "min_probability", "max_probability", "curve"}


def assert_same_metrics(got: StabilityMetrics | OriginMetrics, expected: StabilityMetrics | OriginMetrics) -> None:
    """Each metric of `got` is `expected`'s (those of the unshifted view's comparison too)."""
    for field in dataclasses.fields(expected):
        value, wanted = getattr(got, field.name), getattr(expected, field.name)
        if dataclasses.is_dataclass(wanted):
            assert_same_metrics(value, wanted)
        elif field.name in PROBABILITY_METRICS:
            assert value == pytest.approx(wanted, abs=PROBABILITY_TOLERANCE), field.name
        else:
            assert value == wanted, field.name
