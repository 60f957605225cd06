"""Shift-stability metrics: pure functions of the predictions of one image at several offsets.

Inputs are per-shift top-1 class indices, per-shift rankings (class indices by descending
probability, at least the top 5) and per-class probability curves across the shifts. Pairs are
index pairs into the list of shifts (see `antialiased.protocols`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

Offset = tuple[int, int]
Pair = tuple[int, int]
TOP5 = 5


def consistency(top1: Sequence[int], pairs: Sequence[Pair]) -> float:
    """Fraction of pairs (i, j) whose top-1 classes agree: mean of 1[top1[i] == top1[j]] (the paper's score)."""
    if not pairs:
        raise ValueError("consistency needs at least one pair")
    return sum(top1[i] == top1[j] for i, j in pairs) / len(pairs)


def flip_probability(top1_sequence: Sequence[int]) -> float:
    """ImageNet-P flip probability along a sequence: mean over j >= 1 of 1[top1[j] != top1[j-1]]."""
    if len(top1_sequence) < 2:
        raise ValueError("flip probability needs a sequence of at least two predictions")
    flips = sum(a != b for a, b in pairwise(top1_sequence))
    return flips / (len(top1_sequence) - 1)


def top5_distance(ranking_a: Sequence[int], ranking_b: Sequence[int]) -> int:
    """ImageNet-P top-5 distance: sum over i = 1..5 of |i - min(sigma(i), 6)|.

    sigma(i) is the 1-based rank in `ranking_b` of the i-th class of `ranking_a`; a class outside
    `ranking_b`'s top 5 counts as rank 6, so top-5 lists of both suffice. A model of fewer than 5 classes
    ranks them all: its two complete rankings are compared over its classes.
    """
    complete = len(ranking_a) == len(ranking_b) < TOP5 and set(ranking_a) == set(ranking_b)
    if (len(ranking_a) < TOP5 or len(ranking_b) < TOP5) and not complete:
        raise ValueError("top-5 distance needs rankings of at least 5 classes (or all classes of a smaller model)")
    rank_b = {cls: rank for rank, cls in enumerate(ranking_b[:TOP5], start=1)}
    return sum(abs(i - rank_b.get(cls, TOP5 + 1)) for i, cls in enumerate(ranking_a[:TOP5], start=1))


def mean_top5_distance(rankings: Sequence[Sequence[int]], pairs: Sequence[Pair]) -> float:
    """Mean of `top5_distance(rankings[i], rankings[j])` over the pairs (i, j)."""
    if not pairs:
        raise ValueError("mean top-5 distance needs at least one pair")
    return sum(top5_distance(rankings[i], rankings[j]) for i, j in pairs) / len(pairs)


def jaggedness(offsets: Sequence[Offset], top1: Sequence[int]) -> float | None:
    """Probability that top-1 changes under a 1-pixel diagonal shift (Azulay & Weiss 2019).

    Over every pair of offsets (dy, dx) and (dy+1, dx+1) both present: the fraction whose top-1
    classes differ. None when no such pair exists (e.g. a grid with step > 1).
    """
    index = {tuple(offset): i for i, offset in enumerate(offsets)}
    pairs = [(i, index[(dy + 1, dx + 1)]) for (dy, dx), i in index.items() if (dy + 1, dx + 1) in index]
    return 1.0 - consistency(top1, pairs) if pairs else None


def mean_abs_delta(values: Sequence[float], pairs: Sequence[Pair]) -> float:
    """Mean absolute change |values[i] - values[j]| over the pairs (i, j), e.g. of one class's probability."""
    if not pairs:
        raise ValueError("mean |Δp| needs at least one pair")
    return sum(abs(values[i] - values[j]) for i, j in pairs) / len(pairs)


def majority_class(top1: Sequence[int]) -> tuple[int, float]:
    """The most frequent top-1 class and the fraction of shifts where it is top-1 (ties: first seen wins)."""
    if not top1:
        raise ValueError("majority class needs at least one prediction")
    cls, count = Counter(top1).most_common(1)[0]
    return cls, count / len(top1)


@dataclass(frozen=True)
class OriginMetrics:
    """A probe's views against its unshifted view (the `fractional` and `worst-case` protocols).

    `top_class` is the unshifted view's top-1; `kept_fraction` the fraction of the other views whose top-1 is
    still `top_class` (the consistency with the unshifted view), `flips` whether some view's top-1 differs;
    `curve` is p(top_class) at each view in plan order, `mean_abs_delta_p` the mean over the other views of
    |p - p at the unshifted view|, `min_probability` the least p(top_class) and `worst_shift` the first shift
    where it is reached.
    """

    top_class: int
    kept_fraction: float
    flips: bool
    mean_abs_delta_p: float
    min_probability: float
    worst_shift: tuple[float, float]
    curve: list[float]


def against_origin(
    top1: Sequence[int], curves: Mapping[int, Sequence[float]], shifts: Sequence[tuple[float, float]], origin: int
) -> OriginMetrics:
    """`OriginMetrics` from each view's top-1, the probability curves (of at least the unshifted view's top-1),
    each view's shift and the index of the unshifted view."""
    if len(top1) < 2:
        raise ValueError("comparing with the unshifted view needs at least one other view")
    top = top1[origin]
    curve = list(curves[top])
    others = [k for k in range(len(top1)) if k != origin]
    worst = min(range(len(curve)), key=curve.__getitem__)
    kept = sum(top1[k] == top for k in others) / len(others)
    return OriginMetrics(
        top_class=top,
        kept_fraction=kept,
        flips=kept < 1.0,
        mean_abs_delta_p=mean_abs_delta(curve, [(origin, k) for k in others]),
        min_probability=curve[worst],
        worst_shift=tuple(shifts[worst]),
        curve=curve,
    )


@dataclass(frozen=True)
class StabilityMetrics:
    """All stability metrics of one probe; the stability score is `consistency` over the protocol's pairs."""

    consistency: float
    flip_probability: float | None  # None when the protocol has no sequence (paper, circular)
    mean_top5_distance: float
    jaggedness: float | None
    majority_class: int
    majority_share: float
    mean_abs_delta_p: float  # of the majority class's probability, over the pairs
    min_probability: float  # of the majority class, across the shifts
    max_probability: float
    origin: OriginMetrics | None = None  # against the unshifted view (fractional, worst-case)

    @property
    def score(self) -> float:
        """The headline stability score: the consistency."""
        return self.consistency

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    offsets: Sequence[Offset],
    pairs: Sequence[Pair],
    sequence: Sequence[int] | None,
    rankings: Sequence[Sequence[int]],
    class_probabilities: Mapping[int, Sequence[float]],
    origin: int | None = None,
    shifts: Sequence[tuple[float, float]] | None = None,
) -> StabilityMetrics:
    """Every metric above from one probe: `rankings[k]` is shift k's top-5 (or more) class indices, and
    `class_probabilities[c][k]` the probability of class c at shift k, for at least the majority class (and the
    top-1 of view `origin`, when given: the unshifted view, with each view's shift in `shifts`, default `offsets`).
    """
    top1 = [ranking[0] for ranking in rankings]
    majority, share = majority_class(top1)
    curve = class_probabilities[majority]
    return StabilityMetrics(
        consistency=consistency(top1, pairs),
        flip_probability=flip_probability([top1[k] for k in sequence]) if sequence is not None else None,
        mean_top5_distance=mean_top5_distance(rankings, pairs),
        jaggedness=jaggedness(offsets, top1),
        majority_class=majority,
        majority_share=share,
        mean_abs_delta_p=mean_abs_delta(curve, pairs),
        min_probability=min(curve),
        max_probability=max(curve),
        origin=None if origin is None else against_origin(top1, class_probabilities, shifts or offsets, origin),
    )
