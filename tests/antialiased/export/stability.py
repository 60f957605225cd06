"""The probes of the shift-stability comparisons: one spec per protocol the issue names, small enough for the CPU,
and the comparison of two probes' metrics (top-1-based ones equal, probability-based ones within the bound)."""

from __future__ import annotations

import json

import pytest

from antialiased.export.parity import PROBABILITY_TOLERANCE
from antialiased.metrics import StabilityMetrics
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


def assert_same_metrics(got: StabilityMetrics | dict, expected: StabilityMetrics | dict) -> None:
    """Each metric of `got` is `expected`'s (those against the unshifted view too); either may be the JSON form."""
    _assert_same(_as_json(got), _as_json(expected), "metrics")


def _as_json(metrics: StabilityMetrics | dict) -> dict:
    return json.loads(json.dumps(metrics if isinstance(metrics, dict) else metrics.to_json()))


def _assert_same(got: dict, expected: dict, where: str) -> None:
    assert got.keys() == expected.keys(), where
    for name, wanted in expected.items():
        if isinstance(wanted, dict):
            _assert_same(got[name], wanted, f"{where}.{name}")
        elif name in PROBABILITY_METRICS:
            assert got[name] == pytest.approx(wanted, abs=PROBABILITY_TOLERANCE), f"{where}.{name}"
        else:
            assert got[name] == wanted, f"{where}.{name}"
