"""Shift protocols: the paper's pairs, the diagonal, the grid and circular shifts, seeded and bounded."""

import os
import subprocess
import sys
from itertools import pairwise

import pytest
from pydantic import ValidationError

from antialiased.errors import ApiError
from antialiased.protocols import PROTOCOLS, ProbeSpec, ShiftPlan, make_plan
from antialiased.shifts import MAX_CROP_SIZE, MAX_OFFSETS_PER_REQUEST


def plan_of(protocol: str = "paper", max_offsets: int = MAX_OFFSETS_PER_REQUEST, **spec: int) -> ShiftPlan:
    return make_plan(ProbeSpec(protocol=protocol, **spec), max_offsets)


def test_paper_pairs_are_offsets_in_0_to_31_inside_the_256_crop() -> None:
    plan = plan_of("paper", pairs=200, seed=3)
    request = plan.request
    assert (request.mode, request.crop_size, request.base_size, request.resize_size) == ("crop", 224, 256, 256)
    assert len(plan.pairs) == 200
    coordinates = {v for offset in plan.offsets for v in offset}
    assert coordinates <= set(range(32)), "the paper draws each coordinate from randint(32)"
    assert coordinates == set(range(32)), "400 draws cover the range"
    assert len(set(plan.offsets)) == len(plan.offsets), "each distinct offset is sent once"
    assert all(0 <= i < len(plan.offsets) and 0 <= j < len(plan.offsets) for i, j in plan.pairs)
    assert plan.sequence is None


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    for protocol in ("paper", "circular"):
        assert plan_of(protocol, seed=11) == plan_of(protocol, seed=11)
        assert plan_of(protocol, seed=11).offsets != plan_of(protocol, seed=12).offsets


def test_seeded_plan_is_the_same_in_another_process() -> None:
    """Nothing but the seed decides the plan: a fresh interpreter with another hash seed draws the same offsets."""
    code = (
        "from antialiased.protocols import ProbeSpec, make_plan; "
        "print(make_plan(ProbeSpec(protocol='paper', pairs=8, seed=7)).to_json())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert output.strip() == str(plan_of("paper", pairs=8, seed=7).to_json())


def test_repeated_offsets_are_sent_once_and_pairs_still_point_at_them() -> None:
    plan = plan_of("paper", pairs=50, max_shift=1, crop_size=224)
    assert plan.offsets == ((0, 0),)
    assert plan.pairs == ((0, 0),) * 50


def test_diagonal_is_d_d_for_d_0_to_32_with_consecutive_pairs() -> None:
    plan = plan_of("diagonal")
    assert plan.offsets == tuple((d, d) for d in range(33))
    assert plan.pairs == tuple((d, d + 1) for d in range(32))
    assert plan.sequence == tuple(range(33))
    assert plan.request.base_size == 256


def test_grid_offsets_neighbour_pairs_and_snake_walk() -> None:
    plan = plan_of("grid", step=16, max_shift=32)
    assert plan.offsets == tuple((dy, dx) for dy in (0, 16, 32) for dx in (0, 16, 32))
    assert len(plan.pairs) == 12, "3x3 grid: 6 horizontal + 6 vertical neighbour pairs"
    for i, j in plan.pairs:
        (ay, ax), (by, bx) = plan.offsets[i], plan.offsets[j]
        assert abs(ay - by) + abs(ax - bx) == 16
    walk = [plan.offsets[k] for k in plan.sequence]
    assert sorted(walk) == sorted(plan.offsets)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 16 for a, b in pairwise(walk))


def test_circular_offsets_span_minus_to_plus_max_shift() -> None:
    plan = plan_of("circular", pairs=300, seed=5)
    assert plan.request.mode == "circular"
    assert plan.request.base_size == 224
    coordinates = {v for offset in plan.offsets for v in offset}
    assert coordinates == set(range(-32, 33))


def test_plan_json_carries_geometry_offsets_and_pairs() -> None:
    plan = plan_of("grid", step=32, max_shift=32, crop_size=192, resize_size=240, seed=4)
    assert plan.to_json() == {
        "protocol": "grid",
        "seed": 4,
        "max_shift": 32,
        "mode": "crop",
        "crop_size": 192,
        "base_size": 224,
        "resize_size": 240,
        "offsets": [[0, 0], [0, 32], [32, 0], [32, 32]],
        "pairs": [[0, 1], [2, 3], [0, 2], [1, 3]],
        "sequence": [0, 1, 3, 2],
    }


@pytest.mark.parametrize(
    ("protocol", "kwargs", "code", "message"),
    [
        ("zigzag", {}, "unknown_protocol", "unknown protocol 'zigzag'"),
        ("paper", {"crop_size": 240}, "crop_larger_than_image", "crop_size 240 \\+ shift range 32 = 272 is larger"),
        ("grid", {"crop_size": 300, "max_shift": 4}, "crop_larger_than_image", "larger than the resized image"),
        ("circular", {"crop_size": 300}, "crop_larger_than_image", "crop_size 300 is larger"),
        ("circular", {"crop_size": 64, "resize_size": 64, "max_shift": 65}, "invalid_parameter", r"\[-64, 64\]"),
        ("grid", {"step": 40}, "invalid_parameter", "step must be in"),
        ("paper", {"pairs": 11, "max_offsets": 10}, "too_many_shifts", "11 pairs exceed the limit of 10"),
        ("grid", {"step": 1, "max_offsets": 100}, "too_many_shifts", "1089 grid shifts exceed"),
        ("diagonal", {"max_offsets": 8}, "too_many_shifts", "33 diagonal shifts exceed"),
        ("paper", {"pairs": 10, "max_offsets": 12}, "too_many_shifts", "20 distinct shifts exceed the limit of 12"),
    ],
)
def test_bad_parameters_raise_a_coded_error(protocol: str, kwargs: dict, code: str, message: str) -> None:
    with pytest.raises(ApiError, match=message) as raised:
        plan_of(protocol, **kwargs)
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("field", "value"),
    [("pairs", 0), ("max_shift", 0), ("step", 0), ("crop_size", 8), ("crop_size", MAX_CROP_SIZE + 1),
     ("resize_size", 4096), ("seed", -1)],
)  # fmt: skip
def test_out_of_range_parameters_are_refused_by_the_spec(field: str, value: int) -> None:
    """Plain ranges are the spec's own (they also become the probe service's OpenAPI schema)."""
    with pytest.raises(ValidationError, match=field):
        ProbeSpec(**{field: value})
    assert ProbeSpec.model_json_schema()["properties"][field].keys() >= {"minimum", "maximum"}


def test_the_largest_crop_is_the_librarys_stated_limit() -> None:
    """A 992-pixel crop cost a worker 213 MB per view: the spec (and so the probe API's schema) stops at
    MAX_CROP_SIZE, and a plan at that crop is a valid one."""
    assert ProbeSpec.model_json_schema()["properties"]["crop_size"]["maximum"] == MAX_CROP_SIZE
    spec = ProbeSpec(protocol="diagonal", max_shift=16, crop_size=MAX_CROP_SIZE, resize_size=MAX_CROP_SIZE + 16)
    assert make_plan(spec).request.view_pixels == 17 * MAX_CROP_SIZE**2


def test_spec_is_frozen_and_refuses_unknown_fields() -> None:
    spec = ProbeSpec()
    with pytest.raises(ValidationError):
        spec.pairs = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="colour"):
        ProbeSpec(colour=1)  # type: ignore[call-arg]


def test_every_protocol_makes_a_valid_default_plan() -> None:
    for protocol in PROTOCOLS:
        plan = plan_of(protocol)
        assert plan.pairs and plan.offsets
        # the worst-case window's default is the issue's ±8 (289 views, its cost stated in bench-probe)
        assert len(plan.offsets) <= (289 if protocol == "worst-case" else 81), "defaults stay small enough for a CPU"
