"""Frame-sequence metrics (antialiased.sequences) against plain loops written from ImageNet-P's definitions, and
the sequence limits."""

import random

import pytest

from antialiased.errors import ApiError, ErrorCode
from antialiased.sequences import (
    SequenceLimits,
    check_frame_count,
    check_sequence_pixels,
    sequence_metrics,
)


def _reference(rankings: list[list[int]], probabilities: dict[int, list[float]]) -> tuple[float, float, float]:
    """Flip rate, mean top-5 distance and wobble, by plain loops (ImageNet-P; the wobble of the majority class)."""
    n = len(rankings)
    flips = 0
    distance = 0
    for k in range(1, n):
        if rankings[k][0] != rankings[k - 1][0]:
            flips += 1
        for i in range(5):  # 1-based rank i+1 of the previous frame's class in this frame's top 5, or 6
            cls = rankings[k - 1][i]
            rank = rankings[k][:5].index(cls) + 1 if cls in rankings[k][:5] else 6
            distance += abs((i + 1) - rank)
    counts: dict[int, int] = {}
    for ranking in rankings:
        counts[ranking[0]] = counts.get(ranking[0], 0) + 1
    best = max(counts.values())
    majority = next(r[0] for r in rankings if counts[r[0]] == best)  # ties: first seen
    curve = probabilities[majority]
    wobble = 0.0
    for k in range(1, n):
        wobble += abs(curve[k] - curve[k - 1])
    return flips / (n - 1), distance / (n - 1), wobble / (n - 1)


@pytest.mark.parametrize("seed", range(5))
def test_the_metrics_agree_with_plain_loops(seed: int) -> None:
    rng = random.Random(seed)
    frames = rng.randint(2, 12)
    rankings = [rng.sample(range(8), 6) for _ in range(frames)]
    probabilities = {c: [rng.random() for _ in range(frames)] for c in range(8)}
    metrics = sequence_metrics(rankings, probabilities)
    flip_rate, top5, wobble = _reference(rankings, probabilities)
    assert metrics.frames == frames
    assert metrics.flip_rate == pytest.approx(flip_rate)
    assert metrics.mean_top5_distance == pytest.approx(top5)
    assert metrics.wobble == pytest.approx(wobble)
    assert metrics.curve == probabilities[metrics.majority_class]


def test_by_hand() -> None:
    rankings = [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [2, 1, 3, 4, 5]]
    metrics = sequence_metrics(rankings, {1: [0.9, 0.7, 0.4], 2: [0.05, 0.2, 0.5]})
    assert (metrics.flip_rate, metrics.mean_top5_distance) == (0.5, 1.0)  # one flip in two steps; 0 then |1-2|+|2-1|
    assert (metrics.majority_class, metrics.majority_share) == (1, 2 / 3)
    assert metrics.wobble == pytest.approx((0.2 + 0.3) / 2)


def test_the_limits() -> None:
    limits = SequenceLimits(max_frames=3, max_pixels=100)
    check_frame_count(2, limits)
    check_frame_count(3, limits)
    for count, code, status in ((0, ErrorCode.TOO_FEW_FRAMES, 400), (1, ErrorCode.TOO_FEW_FRAMES, 400),
                                (4, ErrorCode.TOO_MANY_FRAMES, 413)):  # fmt: skip
        with pytest.raises(ApiError) as refused:
            check_frame_count(count, limits)
        assert (refused.value.code, refused.value.status) == (code, status)
    check_sequence_pixels(100, limits)
    with pytest.raises(ApiError) as refused:
        check_sequence_pixels(101, limits)
    assert (refused.value.code, refused.value.status) == (ErrorCode.TOO_MANY_PIXELS, 413)
    with pytest.raises(ValueError):
        sequence_metrics([[1, 2, 3, 4, 5]], {1: [1.0]})
