"""The sequence metrics of a /v1/sequence answer, computed again from reference probabilities by their definitions
(flip rate, majority class and its share, its curve, the wobble), not by the library."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest


def assert_sequence_metrics(result: dict, expected: np.ndarray, tolerance: float, curve: bool = True) -> None:
    """`result` (one target's entry of the answer's `results`) has the metrics of `expected` (frames, classes):
    the flip rate and the majority class and share from its top-1s; with `curve` (every class's probability answered)
    also the majority class's curve, its wobble and class_probabilities."""
    top1 = expected.argmax(axis=1)
    (majority, count), *_ = Counter(top1.tolist()).most_common()
    metrics = result["metrics"]
    assert metrics["frames"] == len(expected)
    assert metrics["flip_rate"] == pytest.approx(np.mean(top1[1:] != top1[:-1]))
    assert (metrics["majority_class"], metrics["majority_share"]) == (majority, pytest.approx(count / len(expected)))
    if curve:
        probabilities = expected[:, majority]
        assert metrics["curve"] == pytest.approx(probabilities.tolist(), abs=tolerance)
        assert metrics["wobble"] == pytest.approx(np.abs(np.diff(probabilities)).mean(), abs=tolerance)
        assert result["class_probabilities"][str(majority)] == pytest.approx(probabilities.tolist(), abs=tolerance)
