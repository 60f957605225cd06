"""The offsets of the protocols beyond the paper, each compared with one unshifted view (its `origin`); torch-free.

- ``fractional`` (Michaeli et al. CVPR 2023): circular shifts (t, t) for t = 0, step, 2·step, ... <= max_shift, both
  axes shifted by t, cut by a sub-pixel method; the origin is (0, 0).
- ``worst-case`` (Engstrom et al. ICML 2019): every shift (dy, dx) of the window [-w, w]², step 1 (or 1/2 with the
  half-pixel grid, cut by a sub-pixel method), row by row. Crop mode: the window at (w + dy, w + dx) of the
  (crop + 2w) center crop, origin (w, w); circular mode: the circular shift (dy, dx), origin (0, 0).
"""

from __future__ import annotations

import math

from antialiased.errors import ApiError, ErrorCode

MAX_WORST_CASE_WINDOW = 32
DEFAULT_SUBPIXEL_STEP = 0.25

Number = int | float
Offset = tuple[Number, Number]


def grid_count(window: int, step: float) -> int:
    """How many shifts the worst-case grid of `window` and `step` holds: (2·window/step + 1)²."""
    return (round(2 * window / step) + 1) ** 2


def _number(value: float) -> Number:
    """`value` rounded to 1e-9 px, as an int when it is whole (JSON then shows 1, not 1.0)."""
    value = round(float(value), 9)
    return int(value) if value.is_integer() else value


def fractional_offsets(step: float, max_shift: int, max_offsets: int) -> list[Offset]:
    """(t, t) for t = 0, step, ... <= max_shift; raise ApiError for a step outside (0, 1], or for more than
    `max_offsets` offsets (counted before any is made: a tiny step must not build a huge list)."""
    if not (math.isfinite(step) and 0 < step <= 1):
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"subpixel_step must be in (0, 1], got {step}")
    steps = max_shift / step  # infinite for a step that underflows
    if not steps < max_offsets:
        message = f"{max_shift} px in steps of {step} px exceed the limit of {max_offsets} shifts per probe"
        raise ApiError(ErrorCode.TOO_MANY_SHIFTS, message)
    count = math.floor(steps + 1e-9) + 1
    return [(_number(k * step), _number(k * step)) for k in range(count)]


def worst_case_offsets(window: int, half_pixel: bool, mode: str) -> tuple[list[Offset], Offset]:
    """Every shift of the window [-window, window]² (step 1, or 1/2), as offsets of `mode`, and the origin."""
    if not 1 <= window <= MAX_WORST_CASE_WINDOW:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, f"the worst-case window max_shift must be in [1, {MAX_WORST_CASE_WINDOW}]"
        )
    step = 0.5 if half_pixel else 1
    axis = [_number(-window + k * step) for k in range(round(2 * window / step) + 1)]
    origin = (window, window) if mode == "crop" else (0, 0)
    return [(_number(origin[0] + dy), _number(origin[1] + dx)) for dy in axis for dx in axis], origin
