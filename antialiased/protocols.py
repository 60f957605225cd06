"""Shift protocols: at which offsets to look at one image, seeded and reproducible.

Each protocol yields a `ShiftPlan`: the `ShiftRequest` (the distinct offsets, sent once to the
model) and the index pairs of offsets whose top-1 predictions the stability score compares.

- ``paper``: the paper's `--evaluate-shift`. `pairs` random pairs of offsets, each offset uniform in
  {0, ..., max_shift-1}^2, windows of `crop_size` in the `crop_size + max_shift` center crop
  (224 in 256 by default). Pairs: the drawn pairs.
- ``diagonal``: the paper's `--evaluate-diagonal`. Offsets (d, d) for d = 0..max_shift in order.
  Pairs and sequence: consecutive offsets (d, d+1).
- ``grid``: every offset (dy, dx) with dy, dx in 0, step, 2*step, ... <= max_shift. Pairs: grid
  neighbours (right and down); sequence: a row-by-row walk that reverses direction on each row
  (boustrophedon), so consecutive offsets are neighbours.
- ``circular``: the APS paper's circular shifts. `pairs` random pairs of offsets, each uniform in
  {-max_shift, ..., max_shift}^2, applied with `torch.roll` to the `crop_size` center crop.

The same seed gives the same plan on every machine (Python's `random.Random`, which is stable).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from antialiased.errors import InputError
from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE
from antialiased.shifts import MAX_SHIFTS_PER_REQUEST, ShiftRequest, ShiftRequestError

PROTOCOLS: tuple[str, ...] = ("paper", "diagonal", "grid", "circular")
DEFAULT_PROTOCOL = "paper"
DEFAULT_PAIRS = 32
DEFAULT_GRID_STEP = 4
DEFAULT_MAX_SHIFT = 32  # the paper's crop range [0, 32) and the APS paper's circular range [-32, 32]

Offset = tuple[int, int]
Pair = tuple[int, int]


class ProtocolError(InputError):
    """Parameters no protocol can honour (see InputError)."""


@dataclass(frozen=True)
class ShiftPlan:
    """One probe's offsets (in `request`) and which of them the stability score compares."""

    protocol: str
    seed: int
    max_shift: int
    request: ShiftRequest
    pairs: tuple[Pair, ...]  # index pairs into `request.offsets`
    sequence: tuple[int, ...] | None  # a walk through neighbouring offsets, for flip probability

    @property
    def offsets(self) -> tuple[Offset, ...]:
        return self.request.offsets

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON: protocol, seed, geometry, offsets, pairs and sequence."""
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "max_shift": self.max_shift,
            **self.request.to_json(),
            "pairs": [list(p) for p in self.pairs],
            "sequence": list(self.sequence) if self.sequence is not None else None,
        }


def make_plan(
    protocol: str = DEFAULT_PROTOCOL,
    *,
    pairs: int = DEFAULT_PAIRS,
    step: int = DEFAULT_GRID_STEP,
    max_shift: int = DEFAULT_MAX_SHIFT,
    crop_size: int = CROP_SIZE,
    resize_size: int = RESIZE_SIZE,
    seed: int = 0,
    max_shifts: int = MAX_SHIFTS_PER_REQUEST,
) -> ShiftPlan:
    """The `ShiftPlan` of `protocol` (see the module docstring); raise ProtocolError on bad parameters.

    `resize_size` is the shorter side the image is resized to; the crop window and its shifts must fit
    in it. `max_shifts` bounds the number of distinct offsets (and of pairs).
    """
    if protocol not in PROTOCOLS:
        raise ProtocolError("unknown_protocol", f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    _check_geometry(protocol, max_shift, crop_size, resize_size)
    rng = random.Random(seed)
    sequence: tuple[int, ...] | None = None
    if protocol in ("paper", "circular"):
        _check_count("pairs", pairs, max_shifts)
        low, high = (0, max_shift - 1) if protocol == "paper" else (-max_shift, max_shift)
        drawn = [_draw_pair(rng, low, high) for _ in range(pairs)]
        offsets, index_pairs = _index_pairs(drawn)
    elif protocol == "diagonal":
        _check_count("diagonal shifts", max_shift + 1, max_shifts)
        offsets = [(d, d) for d in range(max_shift + 1)]
        index_pairs = [(i, i + 1) for i in range(max_shift)]
        sequence = tuple(range(len(offsets)))
    else:
        offsets, index_pairs, sequence = _grid(step, max_shift, max_shifts)
    _check_count("distinct shifts", len(offsets), max_shifts)
    mode = "circular" if protocol == "circular" else "crop"
    base_size = crop_size if mode == "circular" else crop_size + max_shift
    try:
        request = ShiftRequest(
            offsets=tuple(offsets),
            mode=mode,
            crop_size=crop_size,
            base_size=base_size,
            resize_size=resize_size,
            max_shifts=max_shifts,
        )
    except ShiftRequestError as error:
        raise ProtocolError("bad_shift_request", str(error)) from error
    return ShiftPlan(protocol, seed, max_shift, request, tuple(index_pairs), sequence)


def _check_geometry(protocol: str, max_shift: int, crop_size: int, resize_size: int) -> None:
    if max_shift < 1:
        raise ProtocolError("invalid_parameter", f"max_shift must be at least 1, got {max_shift}")
    if protocol == "circular":
        if crop_size > resize_size:
            raise ProtocolError(
                "crop_larger_than_image",
                f"crop_size {crop_size} is larger than the resized image (shorter side {resize_size})",
            )
        if max_shift > crop_size:
            raise ProtocolError("invalid_parameter", f"max_shift {max_shift} exceeds crop_size {crop_size}")
    elif crop_size + max_shift > resize_size:
        raise ProtocolError(
            "crop_larger_than_image",
            f"crop_size {crop_size} + max_shift {max_shift} is larger than the resized image "
            f"(shorter side {resize_size})",
        )


def _check_count(what: str, count: int, max_shifts: int) -> None:
    if count < 1:
        raise ProtocolError("invalid_parameter", f"{what} must be at least 1, got {count}")
    if count > max_shifts:
        raise ProtocolError("too_many_shifts", f"{count} {what} exceed the limit of {max_shifts} shifts per probe")


def _draw_pair(rng: random.Random, low: int, high: int) -> tuple[Offset, Offset]:
    """Two offsets, each coordinate uniform in [low, high]."""
    first = (rng.randint(low, high), rng.randint(low, high))
    return first, (rng.randint(low, high), rng.randint(low, high))


def _index_pairs(drawn: list[tuple[Offset, Offset]]) -> tuple[list[Offset], list[Pair]]:
    """Distinct offsets in order of first appearance, and each drawn pair as indices into them."""
    index: dict[Offset, int] = {}
    for pair in drawn:
        for offset in pair:
            index.setdefault(offset, len(index))
    return list(index), [(index[a], index[b]) for a, b in drawn]


def _grid(step: int, max_shift: int, max_shifts: int) -> tuple[list[Offset], list[Pair], tuple[int, ...]]:
    if not 1 <= step <= max_shift:
        raise ProtocolError("invalid_parameter", f"step must be in [1, max_shift={max_shift}], got {step}")
    axis = list(range(0, max_shift + 1, step))
    n = len(axis)
    _check_count("grid shifts", n * n, max_shifts)
    offsets = [(dy, dx) for dy in axis for dx in axis]
    pairs = [(r * n + c, r * n + c + 1) for r in range(n) for c in range(n - 1)]
    pairs += [(r * n + c, (r + 1) * n + c) for r in range(n - 1) for c in range(n)]
    sequence = tuple(r * n + (c if r % 2 == 0 else n - 1 - c) for r in range(n) for c in range(n))
    return offsets, pairs, sequence
