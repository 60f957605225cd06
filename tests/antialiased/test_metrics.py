"""Stability metrics on small hand-computed predictions."""

import pytest

from antialiased.metrics import (
    consistency,
    flip_probability,
    jaggedness,
    majority_class,
    mean_abs_delta,
    mean_top5_distance,
    summarize,
    top5_distance,
)


def test_consistency_is_the_fraction_of_pairs_that_agree() -> None:
    top1 = [7, 7, 3, 7, 3]
    # pairs: (7,7) agree, (7,3) differ, (3,3) agree, (7,7) agree -> 3/4
    assert consistency(top1, [(0, 1), (1, 2), (2, 4), (0, 3)]) == 0.75


def test_consistency_of_a_pair_with_itself_is_one() -> None:
    assert consistency([5, 9], [(1, 1), (0, 0)]) == 1.0


def test_flip_probability_counts_changes_between_consecutive_predictions() -> None:
    # 1->1 same, 1->2 flip, 2->2 same, 2->1 flip, 1->3 flip: 3 flips in 5 steps
    assert flip_probability([1, 1, 2, 2, 1, 3]) == pytest.approx(3 / 5)
    assert flip_probability([4, 4, 4]) == 0.0


def test_top5_distance_by_hand() -> None:
    a = [10, 11, 12, 13, 14]
    assert top5_distance(a, a) == 0
    # b swaps the first two and drops 14 for 99: sigma = (2, 1, 3, 4, >5 -> 6)
    # |1-2| + |2-1| + 0 + 0 + |5-6| = 3
    assert top5_distance(a, [11, 10, 12, 13, 99]) == 3
    # none of a's classes in b's top 5: sum |i - 6| for i = 1..5 = 5+4+3+2+1 = 15
    assert top5_distance(a, [0, 1, 2, 3, 4]) == 15
    # only the top 5 of longer rankings count: 14 at rank 6 of b is "outside" -> 6
    assert top5_distance(a, [10, 11, 12, 13, 50, 14]) == 1


def test_top5_distance_of_a_model_of_three_classes() -> None:
    """Its rankings hold all 3 classes: sigma of [2, 0, 1] in [0, 1, 2] is (3, 1, 2): |1-3| + |2-1| + |3-2| = 4."""
    assert top5_distance([2, 0, 1], [0, 1, 2]) == 4 and top5_distance([2, 0, 1], [2, 0, 1]) == 0
    with pytest.raises(ValueError, match="at least 5 classes"):
        top5_distance([2, 0, 1], [0, 1])  # not a complete ranking


def test_mean_top5_distance_averages_over_pairs() -> None:
    rankings = [[10, 11, 12, 13, 14], [11, 10, 12, 13, 99], [10, 11, 12, 13, 14]]
    # pair (0,1): 3; pair (0,2): 0; pair (1,0): sigma of [11,10,12,13,99] in a = (2,1,3,4,6) -> 3
    assert mean_top5_distance(rankings, [(0, 1), (0, 2), (1, 0)]) == pytest.approx(2.0)


def test_top5_distance_needs_five_classes() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        top5_distance([1, 2, 3], [1, 2, 3, 4, 5])


def test_jaggedness_uses_only_one_pixel_diagonal_neighbours() -> None:
    offsets = [(0, 0), (1, 1), (2, 2), (0, 1), (5, 5)]
    top1 = [1, 1, 2, 9, 3]
    # diagonal neighbours: (0,0)-(1,1) same, (1,1)-(2,2) flip, (0,1)-(1,2) absent, (5,5) alone -> 1/2
    assert jaggedness(offsets, top1) == 0.5


def test_jaggedness_is_none_without_diagonal_neighbours() -> None:
    assert jaggedness([(0, 0), (2, 2), (4, 4)], [1, 2, 3]) is None


def test_mean_abs_delta_over_pairs() -> None:
    p = [0.9, 0.5, 0.8]
    # |0.9-0.5| + |0.5-0.8| = 0.4 + 0.3 -> 0.35
    assert mean_abs_delta(p, [(0, 1), (1, 2)]) == pytest.approx(0.35)


def test_majority_class_and_share() -> None:
    assert majority_class([3, 5, 3, 3, 5]) == (3, 0.6)
    assert majority_class([8, 2, 2, 8]) == (8, 0.5), "a tie goes to the class seen first"


def test_summarize_combines_every_metric() -> None:
    offsets = [(0, 0), (1, 1), (2, 2), (3, 3)]
    rankings = [
        [1, 2, 3, 4, 5],
        [1, 3, 2, 4, 5],  # distance to previous: |2-3| + |3-2| = 2
        [2, 1, 3, 4, 5],  # distance from [1,3,2,4,5]: sigma = (2, 3, 1, 4, 5) -> 1+1+2 = 4
        [2, 1, 3, 4, 5],  # 0
    ]
    probabilities = {1: [0.6, 0.5, 0.3, 0.4], 2: [0.1, 0.2, 0.5, 0.45]}
    pairs = [(0, 1), (1, 2), (2, 3)]
    metrics = summarize(offsets, pairs, [0, 1, 2, 3], rankings, probabilities)
    assert metrics.consistency == pytest.approx(2 / 3)
    assert metrics.score == metrics.consistency
    assert metrics.flip_probability == pytest.approx(1 / 3)
    assert metrics.jaggedness == pytest.approx(1 / 3)
    assert metrics.mean_top5_distance == pytest.approx(6 / 3)
    assert metrics.majority_class == 1, "1 and 2 tie at 2 shifts each; 1 is seen first"
    assert metrics.majority_share == 0.5
    # class 1's curve 0.6, 0.5, 0.3, 0.4: |Δp| = 0.1, 0.2, 0.1 -> 0.4/3
    assert metrics.mean_abs_delta_p == pytest.approx(0.4 / 3)
    assert (metrics.min_probability, metrics.max_probability) == (0.3, 0.6)


def test_summarize_without_a_sequence_has_no_flip_probability() -> None:
    rankings = [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]
    metrics = summarize([(0, 0), (9, 9)], [(0, 1)], None, rankings, {1: [0.5, 0.5]})
    assert metrics.flip_probability is None
    assert metrics.jaggedness is None
    assert metrics.consistency == 1.0
