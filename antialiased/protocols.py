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
- ``fractional`` and ``worst-case``: sub-pixel shifts and every shift of a window (see `antialiased.windows`),
  max_shift 1 and 8 unless given. Pairs: the unshifted view (the plan's `origin`) with every other view;
  `antialiased.metrics.against_origin` scores them.

The parameters of a probe are one frozen type, `ProbeSpec`, used by `make_plan`, the in-process probe and the
probe service (whose query parameters it is). The same seed gives the same plan on every machine (Python's
`random.Random`, which is stable). Torch-free.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from antialiased._deprecated import renamed_keywords
from antialiased.errors import ApiError, ErrorCode
from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE
from antialiased.shifts import (
    MAX_CROP_SIZE,
    MAX_IMAGE_SIDE,
    MAX_OFFSETS_PER_REQUEST,
    MIN_CROP_SIZE,
    ShiftMode,
    ShiftRequest,
    SubpixelMethod,
    check_offset_range,
    check_window,
    offset_bounds,
)
from antialiased.windows import (
    DEFAULT_SUBPIXEL_STEP,
    MAX_WORST_CASE_WINDOW,
    fractional_offsets,
    grid_count,
    worst_case_offsets,
)

# Each protocol with its one-line description (the probe page lists them from the service's /v1/config).
PROTOCOL_DESCRIPTIONS: dict[str, str] = {
    "paper": "random pairs in [0, max shift)²",
    "diagonal": "(d, d), d = 0..max shift",
    "grid": "every offset on a grid",
    "circular": "random circular shifts",
    "fractional": "sub-pixel shifts (t, t), t = 0, step, .. max shift",
    "worst-case": "every shift in [-max shift, max shift]²",
}
# max_shift when the spec does not give it, where it differs from DEFAULT_MAX_SHIFT
PROTOCOL_MAX_SHIFT = {"fractional": 1, "worst-case": 8}
PROTOCOLS: tuple[str, ...] = tuple(PROTOCOL_DESCRIPTIONS)
DEFAULT_PROTOCOL = "paper"
DEFAULT_PAIRS = 32
DEFAULT_GRID_STEP = 4
DEFAULT_MAX_SHIFT = 32  # the paper's crop range [0, 32) and the APS paper's circular range [-32, 32]

Offset = tuple[int, int]
Pair = tuple[int, int]


class ProbeSpec(BaseModel):
    """How to probe one image: the protocol and its parameters (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: str = Field(DEFAULT_PROTOCOL, description="The shift protocol.", json_schema_extra={"enum": PROTOCOLS})
    pairs: int = Field(
        DEFAULT_PAIRS, ge=1, le=MAX_OFFSETS_PER_REQUEST, description="Random offset pairs (paper, circular)."
    )
    step: int = Field(DEFAULT_GRID_STEP, ge=1, le=MAX_IMAGE_SIDE, description="Grid step in pixels (grid).")
    max_shift: int = Field(DEFAULT_MAX_SHIFT, ge=1, le=MAX_IMAGE_SIDE, description="Largest shift in pixels.")
    crop_size: int = Field(
        CROP_SIZE, ge=MIN_CROP_SIZE, le=MAX_CROP_SIZE, description="Side of the window the model sees."
    )
    resize_size: int = Field(
        RESIZE_SIZE, ge=MIN_CROP_SIZE, le=MAX_IMAGE_SIDE, description="Shorter side the image is resized to first."
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of the random protocols.")
    subpixel_step: float = Field(
        DEFAULT_SUBPIXEL_STEP, gt=0, le=1, description="Step of the sub-pixel shifts in pixels (fractional)."
    )
    method: SubpixelMethod = Field("fourier", description="How sub-pixel views are cut (fractional, half_pixel).")
    mode: ShiftMode = Field("crop", description="Crop windows or circular shifts (worst-case).")
    half_pixel: bool = Field(False, description="Also the half-pixel grid of the window (worst-case).")

    @property
    def shift_range(self) -> int:
        """`max_shift`, or the protocol's default when it is not given."""
        if "max_shift" in self.model_fields_set:
            return self.max_shift
        return PROTOCOL_MAX_SHIFT.get(self.protocol, self.max_shift)


@dataclass(frozen=True)
class ShiftPlan:
    """One probe's offsets (in `request`) and which of them the stability score compares."""

    spec: ProbeSpec
    request: ShiftRequest
    pairs: tuple[Pair, ...]  # index pairs into `request.offsets`
    sequence: tuple[int, ...] | None  # a walk through neighbouring offsets, for flip probability
    origin: Offset | None = None  # the unshifted view's offset, for the protocols compared with it

    @property
    def offsets(self) -> tuple[Offset, ...]:
        return self.request.offsets

    @property
    def reference(self) -> int | None:
        """The index of the unshifted view, for the protocols compared with it."""
        return None if self.origin is None else self.offsets.index(self.origin)

    @property
    def shifts(self) -> list[tuple[float, float]]:
        """Each view's shift from the unshifted view (its offset, for protocols without an origin)."""
        oy, ox = self.origin or (0, 0)
        return [(dy - oy, dx - ox) for dy, dx in self.offsets]

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON: protocol, seed, geometry, offsets, pairs and sequence."""
        return {
            "protocol": self.spec.protocol,
            "seed": self.spec.seed,
            "max_shift": self.spec.shift_range,
            **self.request.to_json(),
            "pairs": [list(p) for p in self.pairs],
            "sequence": list(self.sequence) if self.sequence is not None else None,
        } | ({"origin": list(self.origin)} if self.origin is not None else {})


@renamed_keywords(max_shifts="max_offsets")
def make_plan(spec: ProbeSpec = ProbeSpec(), max_offsets: int = MAX_OFFSETS_PER_REQUEST) -> ShiftPlan:
    """The `ShiftPlan` of `spec` (see the module docstring); raise ApiError on parameters no plan can honour.

    `max_offsets` bounds the number of distinct offsets (and of pairs).
    """
    if spec.protocol not in PROTOCOLS:
        raise ApiError(
            ErrorCode.UNKNOWN_PROTOCOL, f"unknown protocol {spec.protocol!r}; use one of {', '.join(PROTOCOLS)}"
        )
    if spec.protocol in PROTOCOL_MAX_SHIFT:
        return _against_origin(spec, max_offsets)
    mode = "circular" if spec.protocol == "circular" else "crop"
    base_size = spec.crop_size if mode == "circular" else spec.crop_size + spec.max_shift
    check_window(mode, spec.crop_size, base_size, spec.resize_size)
    rng = random.Random(spec.seed)
    sequence: tuple[int, ...] | None = None
    if spec.protocol in ("paper", "circular"):
        _check_count("pairs", spec.pairs, max_offsets)
        low, high = (0, spec.max_shift - 1) if mode == "crop" else (-spec.max_shift, spec.max_shift)
        check_offset_range(low, high, offset_bounds(mode, spec.crop_size, base_size), "max_shift")
        drawn = [_draw_pair(rng, low, high) for _ in range(spec.pairs)]
        offsets, index_pairs = _index_pairs(drawn)
    elif spec.protocol == "diagonal":
        _check_count("diagonal shifts", spec.max_shift + 1, max_offsets)
        offsets = [(d, d) for d in range(spec.max_shift + 1)]
        index_pairs = [(i, i + 1) for i in range(spec.max_shift)]
        sequence = tuple(range(len(offsets)))
    else:
        offsets, index_pairs, sequence = _grid(spec.step, spec.max_shift, max_offsets)
    _check_count("distinct shifts", len(offsets), max_offsets)
    request = _request(spec, offsets, mode, base_size, max_offsets)
    return ShiftPlan(spec, request, tuple(index_pairs), sequence)


def _against_origin(spec: ProbeSpec, max_offsets: int) -> ShiftPlan:
    """The plan of a protocol whose views are compared with the unshifted one (fractional, worst-case)."""
    reach = spec.shift_range
    if spec.protocol == "fractional":
        mode, method, origin = "circular", spec.method, (0, 0)
        offsets = fractional_offsets(spec.subpixel_step, reach, max_offsets)
    else:
        mode, method = spec.mode, spec.method if spec.half_pixel else None
        if reach <= MAX_WORST_CASE_WINDOW:
            _check_count("worst-case shifts", grid_count(reach, 0.5 if spec.half_pixel else 1), max_offsets)
        offsets, origin = worst_case_offsets(reach, spec.half_pixel, mode)
    base_size = spec.crop_size + 2 * reach if mode == "crop" else spec.crop_size
    check_window(mode, spec.crop_size, base_size, spec.resize_size)
    low, high = (-reach, reach) if mode == "circular" else (0, 2 * reach)
    check_offset_range(low, high, offset_bounds(mode, spec.crop_size, base_size), "max_shift")
    request = _request(spec, offsets, mode, base_size, max_offsets, method)
    reference = request.offsets.index(origin)
    pairs = tuple((reference, k) for k in range(len(offsets)) if k != reference)
    sequence = tuple(range(len(offsets))) if spec.protocol == "fractional" else None
    return ShiftPlan(spec, request, pairs, sequence, origin)


def _request(
    spec: ProbeSpec,
    offsets: list[Offset],
    mode: ShiftMode,
    base_size: int,
    max_offsets: int,
    method: SubpixelMethod | None = None,
) -> ShiftRequest:
    """The `ShiftRequest` of a plan's `offsets`, cut from `spec`'s crop and resize sizes."""
    return ShiftRequest(
        offsets=tuple(offsets),
        mode=mode,
        crop_size=spec.crop_size,
        base_size=base_size,
        resize_size=spec.resize_size,
        max_offsets=max_offsets,
        method=method,
    )


def _check_count(what: str, count: int, max_offsets: int) -> None:
    if count < 1:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{what} must be at least 1, got {count}")
    if count > max_offsets:
        raise ApiError(ErrorCode.TOO_MANY_SHIFTS, f"{count} {what} exceed the limit of {max_offsets} shifts per probe")


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


def _grid(step: int, max_shift: int, max_offsets: int) -> tuple[list[Offset], list[Pair], tuple[int, ...]]:
    if not 1 <= step <= max_shift:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"step must be in [1, max_shift={max_shift}], got {step}")
    axis = list(range(0, max_shift + 1, step))
    n = len(axis)
    _check_count("grid shifts", n * n, max_offsets)
    offsets = [(dy, dx) for dy in axis for dx in axis]
    pairs = [(r * n + c, r * n + c + 1) for r in range(n) for c in range(n - 1)]
    pairs += [(r * n + c, (r + 1) * n + c) for r in range(n - 1) for c in range(n)]
    sequence = tuple(r * n + (c if r % 2 == 0 else n - 1 - c) for r in range(n) for c in range(n))
    return offsets, pairs, sequence
