"""Confidence intervals: simulated data sets with known truth, for every figure and for paired differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from antialiased.evaluate.statistics import mean_estimate, paired_difference
from antialiased.evaluate.store import SCHEMA
from antialiased.evaluate.summary import FIGURES, Figure, summarize

MEASURES = ("accuracy", "consistency", "diagonal", "circular", "worst-case", "fractional")
IMAGE_FIGURES = [f for f in FIGURES if f.measure in MEASURES]
SEQUENCE_FIGURES = [f for f in FIGURES if f.measure == "sequence"]


def _simulated_table(rng: np.random.Generator, images: int, truth: dict) -> pa.Table:
    """Two models on the same images: per-image latent rates drawn around the truth, per-view Bernoulli draws."""
    rows = []
    shared = rng.normal(0, 1, images)  # image difficulty, shared by both models (what pairing cancels)
    for model, shift in (("a", 0.0), ("b", 0.3)):
        p = 1 / (1 + np.exp(-(truth["logit"] + shift + shared)))
        for i in range(images):
            correct = rng.random() < p[i]
            rows.append(
                {
                    "model": model,
                    "index": i,
                    "relpath": f"{i}.png",
                    "label": i % 4,
                    "error": None,
                    "top1": 0,
                    "correct1": bool(correct),
                    "correct5": bool(rng.random() < min(1.0, p[i] + 0.1)),
                    "p_true": float(p[i]),
                    "shift_agree": (rng.random(5) < p[i] ** 0.2).tolist(),
                    "diag_correct1": (rng.random(33) < p[i]).tolist(),
                    "diag_correct5": (rng.random(33) < min(1.0, p[i] + 0.1)).tolist(),
                    "diag_p_true": rng.beta(8 * p[i] + 0.1, 8 * (1 - p[i]) + 0.1, 33).tolist(),
                    "circular_agree": (rng.random(5) < p[i] ** 0.1).tolist(),
                    "wc_correct": bool(rng.random() < p[i] ** 3),
                    "wc_kept": float(p[i] ** 0.5),
                    "wc_flip": bool(rng.random() < 1 - p[i] ** 0.5),
                    "frac_agree": (rng.random(4) < p[i] ** 0.15).tolist(),
                }
            )
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _true_means(truth: dict, draws: int = 400_000) -> dict[str, dict[str, float]]:
    """Each figure's population value (percent) for both models, by a large Monte Carlo over images."""
    rng = np.random.default_rng(123)
    shared = rng.normal(0, 1, draws)
    means = {}
    for model, shift in (("a", 0.0), ("b", 0.3)):
        p = 1 / (1 + np.exp(-(truth["logit"] + shift + shared)))
        top5 = np.minimum(1.0, p + 0.1)
        diag_p = (8 * p + 0.1) / (8 * p + 0.1 + 8 * (1 - p) + 0.1)
        means[model] = {
            "top1": p.mean(),
            "top5": top5.mean(),
            "consistency": (p**0.2).mean(),
            "diagonal_p_true": diag_p.mean(),
            "diagonal_top1": p.mean(),
            "diagonal_top5": top5.mean(),
            "circular_consistency": (p**0.1).mean(),
            "worst_case_accuracy": (p**3).mean(),
            "worst_case_flips": (1 - p**0.5).mean(),
            "fractional_consistency": (p**0.15).mean(),
        }
    return {m: {k: 100 * v for k, v in figures.items()} for m, figures in means.items()}


def test_every_figure_and_difference_has_about_95_percent_coverage() -> None:
    truth = {"logit": 1.2}
    true = _true_means(truth)
    rng = np.random.default_rng(0)
    simulations, images = 120, 300
    summaries = [summarize(_simulated_table(rng, images, truth), ["a", "b"], MEASURES, str) for _ in range(simulations)]
    covered = _assert_coverage(summaries, IMAGE_FIGURES, true)
    assert sum(covered.values()) / (simulations * len(IMAGE_FIGURES)) <= 0.985, "intervals are not uselessly wide"


def _assert_coverage(summaries: list[dict], figures: Sequence[Figure], true: dict[str, dict[str, float]]) -> dict:
    """Assert that each figure's 95% interval of model a, and of the difference a - b, holds the true value in 88% to
    100% of the `summaries`; return how many of model a's intervals held it, per figure."""
    covered = {f.name: 0 for f in figures}
    covered_difference = {f.name: 0 for f in figures}
    for summary in summaries:
        for figure in figures:
            estimate = summary["models"]["a"]["figures"][figure.name]
            covered[figure.name] += estimate["ci_low"] <= true["a"][figure.name] <= estimate["ci_high"]
            difference = summary["comparisons"][0]["differences"][figure.name]
            real = true["a"][figure.name] - true["b"][figure.name]
            covered_difference[figure.name] += difference["ci_low"] <= real <= difference["ci_high"]
    for name in covered:
        assert 0.88 <= covered[name] / len(summaries) <= 1.0, (name, covered[name])
        assert 0.88 <= covered_difference[name] / len(summaries) <= 1.0, (name, covered_difference[name])
    return covered


FRAMES = 8  # per simulated sequence: 7 consecutive pairs


def _sequence_model(shared: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sequence: the chance of a flip between two frames, the mean top-5 distance's rate, the wobble's mean."""
    q = 1 / (1 + np.exp(-(-1.5 + shift + shared)))
    return q, 3 * q, 0.4 * q


def _simulated_sequences(rng: np.random.Generator, sequences: int) -> pa.Table:
    """Two models on the same sequences (a shared difficulty): flips, top-5 distances and wobbles per sequence."""
    rows = []
    shared = rng.normal(0, 1, sequences)
    for model, shift in (("a", 0.0), ("b", 0.5)):
        q, rate, wobble = _sequence_model(shared, shift)
        for i in range(sequences):
            rows.append(
                {
                    "model": model, "index": i, "relpath": f"seq_{i}", "label": None, "error": None,
                    "seq_frames": FRAMES,
                    "seq_flip_rate": rng.binomial(FRAMES - 1, q[i]) / (FRAMES - 1),
                    "seq_top5_distance": np.minimum(rng.poisson(rate[i], FRAMES - 1), 15).mean(),
                    "seq_wobble": rng.beta(8 * wobble[i] + 0.1, 8 * (1 - wobble[i]) + 0.1, FRAMES - 1).mean(),
                }
            )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def test_every_sequence_figure_and_difference_has_about_95_percent_coverage() -> None:
    """The sequences are the units: the flip rate and wobble in percent, the top-5 distance (0-15) as it is."""
    shared = np.random.default_rng(123).normal(0, 1, 400_000)
    true = {}
    for model, shift in (("a", 0.0), ("b", 0.5)):
        q, rate, wobble = _sequence_model(shared, shift)
        w = (8 * wobble + 0.1) / (8 * wobble + 0.1 + 8 * (1 - wobble) + 0.1)
        true[model] = {"flip_rate": 100 * q.mean(), "mean_top5_distance": rate.mean(), "wobble": 100 * w.mean()}
    rng = np.random.default_rng(2)
    summaries = [summarize(_simulated_sequences(rng, 200), ["a", "b"], ("sequence",), str) for _ in range(150)]
    _assert_coverage(summaries, SEQUENCE_FIGURES, true)
    last = summaries[-1]["models"]["a"]
    assert len(last["sequences"]) == 200 and last["per_class"] == []


def test_binary_interval_coverage_and_edges() -> None:
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(2000):
        estimate = mean_estimate((rng.random(200) < 0.9).astype(float))
        hits += estimate.low <= 90 <= estimate.high
    assert 0.93 <= hits / 2000 <= 0.97
    perfect = mean_estimate(np.ones(50))
    assert perfect.value == 100 and perfect.high == 100 and perfect.low < 95, "100% of 50 is not certainty"
    assert mean_estimate(np.zeros(50)).high > 5


def test_paired_difference_cancels_what_images_share() -> None:
    rng = np.random.default_rng(2)
    base = (rng.random(500) < 0.7).astype(float)
    better = base.copy()
    better[rng.choice(np.flatnonzero(base == 0), 15, replace=False)] = 1.0  # 15 more images right, none worse
    difference = paired_difference(better, base)
    assert difference.value == 100 * 15 / 500 and difference.excludes_zero()
    unpaired = mean_estimate(better).low <= mean_estimate(base).high
    assert unpaired, "the separate intervals overlap: only the paired interval shows the difference"
    assert not paired_difference(base, base).excludes_zero()
