"""ImageNet-P's metrics (antialiased.sequences.imagenet_p) against plain loops written from its evaluation's
definitions (hendrycks/robustness, ImageNet-P/test.py: scipy's ordinal ranks, the walks of each difficulty, every
noise frame against the first), on generated logits with ties, for each mode and difficulty; and mFR / mT5D."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from antialiased.metrics import top5_distance
from antialiased.sequences import sequence_metrics
from antialiased.sequences.imagenet_p import (
    compared_pairs,
    normalised_mean,
    ordinal_ranks,
    perturbation_of,
    video_figures,
)


def _distance(sigma: np.ndarray, mode: str) -> float:
    """From the definitions: positions k = 1..C; top-5: sum over k <= 5 of |c(k-1) - c(sigma_k - 1)| with
    c = cumsum([0, 1, 1, 1, 1, 1, 0, ...]); Zipf: sum over k of |1/k - 1/sigma_k| / k."""
    classes = len(sigma)
    total = 0.0
    if mode == "top5":
        c = np.cumsum([0] + [1] * 5 + [0] * (classes - 6))
        for k in range(5):
            total += abs(c[k] - c[sigma[k] - 1])
    else:
        for k in range(1, classes + 1):
            total += abs(1 / k - 1 / sigma[k - 1]) / k
    return total


def _reference(videos: list[np.ndarray], difficulty: int, noise: bool) -> tuple[float, float, float]:
    """The flip probability and top-5 / Zipf distances of a set of videos, by loops: per video the mean over the
    compared pairs, then the mean over the videos."""
    step = 1 if noise else difficulty
    flips, top5, zipf = [], [], []
    for logits in videos:
        predictions = [int(np.argmax(frame)) for frame in logits]
        ranks = [rankdata(-frame, method="ordinal").astype(int) for frame in logits]
        video_flips, video_top5, video_zipf = [], [], []
        for start in range(step):
            previous = start
            for later in range(start + step, len(logits), step):
                video_flips.append(predictions[previous] != predictions[later])
                sigma = ranks[later][np.argsort(ranks[previous])]
                video_top5.append(_distance(sigma, "top5"))
                video_zipf.append(_distance(sigma, "zipf"))
                if not noise:
                    previous = later
        flips.append(np.mean(video_flips))
        top5.append(np.mean(video_top5))
        zipf.append(np.mean(video_zipf))
    return float(np.mean(flips)), float(np.mean(top5)), float(np.mean(zipf))


def _videos(seed: int, count: int = 4, classes: int = 12) -> list[np.ndarray]:
    """Logits of videos of 7 to 41 frames; rounded to one decimal, so that frames hold ties."""
    rng = np.random.default_rng(seed)
    drift = [np.cumsum(rng.normal(0, 0.6, (rng.integers(7, 42), classes)), axis=0) for _ in range(count)]
    return [np.round(logits, 1) for logits in drift]


@pytest.mark.parametrize("noise", [False, True], ids=["through-time", "noise"])
@pytest.mark.parametrize("difficulty", [1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_the_figures_equal_loops_from_the_definitions(noise: bool, difficulty: int, seed: int) -> None:
    videos = _videos(seed)
    per_video = [video_figures(logits, noise, [difficulty])[difficulty] for logits in videos]
    flips, top5, zipf = _reference(videos, difficulty, noise)
    assert np.mean([v["flip_probability"] for v in per_video]) == pytest.approx(flips, abs=1e-12)
    assert np.mean([v["top5_distance"] for v in per_video]) == pytest.approx(top5, abs=1e-12)
    assert np.mean([v["zipf_distance"] for v in per_video]) == pytest.approx(zipf, abs=1e-12)


def test_the_walks_by_hand() -> None:
    assert compared_pairs(5) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert compared_pairs(7, 3) == [(0, 3), (3, 6), (1, 4), (2, 5)]
    assert compared_pairs(4, 2, noise=True) == [(0, 1), (0, 2), (0, 3)]  # a noise video: its folder is the difficulty
    assert compared_pairs(2, 3) == []
    logits = np.zeros((2, 6))
    assert video_figures(logits, False, [1, 2, 3]).keys() == {1}


def test_ranks_are_scipy_s_ordinal_ranks_with_ties_by_class_index() -> None:
    logits = np.array([[0.5, 2.0, 0.5, -1.0, 2.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    assert ordinal_ranks(logits).tolist() == [rankdata(-row, method="ordinal").tolist() for row in logits]
    assert ordinal_ranks(logits)[0].tolist() == [3, 1, 4, 5, 2]


def test_difficulty_one_is_the_probe_s_consecutive_metrics() -> None:
    """The probe's flip rate and mean top-5 distance (top-5 lists only) are ImageNet-P's at difficulty 1."""
    for logits in _videos(7, classes=30):
        logits = logits + np.arange(30) * 1e-6  # no ties: the probe ranks by softmax, the same order
        rankings = np.argsort(-logits, axis=1, kind="stable")[:, :5].tolist()
        probe = sequence_metrics(rankings, {c: [0.0] * len(logits) for c in range(30)})
        figures = video_figures(logits, False, [1])[1]
        assert probe.flip_rate == pytest.approx(figures["flip_probability"])
        assert probe.mean_top5_distance == pytest.approx(figures["top5_distance"])
        assert top5_distance(rankings[0], rankings[1]) == video_figures(logits[:2], False, [1])[1]["top5_distance"]


def test_mfr_is_the_mean_ratio_to_alexnet_over_the_test_perturbations() -> None:
    model = {"translate": 0.02, "rotate": 0.03, "shear": 0.5}
    alexnet = {"translate": 0.04, "rotate": 0.04, "shear": 0.1, "snow": 0.2}
    value, used = normalised_mean(model, alexnet)
    assert used == ["translate", "rotate"] and value == pytest.approx(100 * (0.5 + 0.75) / 2)
    assert normalised_mean(model, {}) == (None, [])
    assert perturbation_of("gaussian_noise_3") == ("gaussian_noise", 3)
    assert perturbation_of("translate") == ("translate", 1) and perturbation_of("holiday_clips") is None
