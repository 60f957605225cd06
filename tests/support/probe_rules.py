"""The probe API's documented rules across parameters, written here from the docs alone (docs/probe.md, the handler
contract's error table in docs/contract.md, and the shift protocols' definitions in antialiased/protocols.py's and
antialiased/shifts.py's docstrings), never by calling the library: an oracle independent of `make_plan`.

For a query that OpenAPI calls valid (each parameter within its schema), `probe_verdict` says which documented
refusals the probe may answer (none: it must succeed) and what a successful plan must look like; `sequence_verdict`
does the same for /v1/sequence from the number of frames sent. tests/service/schemathesis_hooks.py checks every
answer of the fuzzer against them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TOO_MANY_SHIFTS = "too_many_shifts"  # more distinct views than PROBE_MAX_OFFSETS
CROP_LARGER = "crop_larger_than_image"  # the window and its shifts do not fit in the resized image
INVALID_PARAMETER = "invalid_parameter"  # a value out of its protocol's range
TOO_FEW_FRAMES = "too_few_frames"  # fewer than 2 frames used

# The defaults the docs give: pairs 32, grid step 4, crop 224 of the image resized to 256, max_shift 32 (the paper's
# [0, 32), the APS paper's [-32, 32]), but 1 for `fractional` and 8 for `worst-case` (whose window is at most ±32),
# sub-pixel step 1/4; a sequence uses every frame (stride 1), at most PROBE_SEQUENCE__MAX_FRAMES.
DEFAULTS = {"protocol": "paper", "pairs": 32, "step": 4, "crop_size": 224, "resize_size": 256,
            "subpixel_step": 0.25, "mode": "crop", "half_pixel": False}  # fmt: skip
DEFAULT_MAX_SHIFT = {"fractional": 1, "worst-case": 8}
PROTOCOLS = ("paper", "diagonal", "grid", "circular", "fractional", "worst-case")
WIDEST_WORST_CASE = 32
MIN_FRAMES = 2


@dataclass
class Verdict:
    """The refusals a request may get (`refusals`; empty: it must succeed), whether it may succeed all the same
    (`may_succeed`: the rule depends on a random draw), and facts every successful answer must show."""

    refusals: set[str] = field(default_factory=set)
    may_succeed: bool = False
    views: int | None = None  # the number of views (distinct offsets), when the parameters alone decide it
    pairs: int | None = None  # the number of compared pairs, likewise
    offset_range: tuple[float, float] | None = None  # every offset coordinate lies in it
    frames_used: list[int] | None = None  # /v1/sequence: the indices of the frames used

    def rule(self, holds: bool, code: str) -> None:
        """A documented rule: where it does not hold, the request may be refused with `code`."""
        if not holds:
            self.refusals.add(code)

    @property
    def must_succeed(self) -> bool:
        return not self.refusals


def probe_verdict(query: Mapping[str, Any], max_offsets: int) -> Verdict:
    """The verdict of /v1/stability and /v1/compare on a schema-valid query, under PROBE_MAX_OFFSETS `max_offsets`."""
    q = {**DEFAULTS, **{k: v for k, v in query.items() if v is not None}}
    protocol, crop, resize = q["protocol"], q["crop_size"], q["resize_size"]
    shift = q.get("max_shift", DEFAULT_MAX_SHIFT.get(protocol, 32))
    verdict = Verdict()
    if protocol in ("paper", "diagonal", "grid"):
        # windows of crop_size in the (crop_size + max_shift) center crop of the image resized to resize_size
        verdict.rule(crop + shift <= resize, CROP_LARGER)
    if protocol == "paper":  # pairs of offsets uniform in [0, max_shift)²: at most 2·pairs distinct of max_shift²
        _drawn(verdict, q["pairs"], min(2 * q["pairs"], shift**2), max_offsets, (0, shift - 1))
    elif protocol == "circular":  # rolls of the crop_size center crop by offsets in [-max_shift, max_shift]²
        verdict.rule(crop <= resize, CROP_LARGER)
        verdict.rule(shift <= crop, INVALID_PARAMETER)  # a circular offset is at most the crop's side
        _drawn(verdict, q["pairs"], min(2 * q["pairs"], (2 * shift + 1) ** 2), max_offsets, (-shift, shift))
    elif protocol == "diagonal":  # (d, d), d = 0..max_shift; consecutive pairs
        _fixed(verdict, shift + 1, shift, max_offsets, (0, shift))
    elif protocol == "grid":  # every (dy, dx) in {0, step, 2·step, ... <= max_shift}²; right and down neighbours
        verdict.rule(q["step"] <= shift, INVALID_PARAMETER)
        side = shift // q["step"] + 1
        _fixed(verdict, side**2, 2 * side * (side - 1), max_offsets, (0, shift))
    elif protocol == "fractional":  # circular (t, t), t = 0, step, ... <= max_shift, each against t = 0
        verdict.rule(crop <= resize, CROP_LARGER)
        verdict.rule(shift <= crop, INVALID_PARAMETER)
        steps = shift / q["subpixel_step"]  # the views beyond t = 0 (infinite for a step that underflows)
        if abs(steps - max_offsets) < 1e-6:  # on the edge of the limit, float rounding decides
            verdict.refusals.add(TOO_MANY_SHIFTS)
            verdict.may_succeed = True
        elif steps > max_offsets:
            verdict.refusals.add(TOO_MANY_SHIFTS)
        else:
            count = math.floor(steps + 1e-9) + 1
            _fixed(verdict, count, count - 1, max_offsets, (0, shift))
    elif protocol == "worst-case":  # every shift of [-m, m]², step 1 (or 1/2), each against the unshifted view
        verdict.rule(1 <= shift <= WIDEST_WORST_CASE, INVALID_PARAMETER)
        side = (4 if str(q["half_pixel"]).lower() == "true" else 2) * shift + 1  # a query spells it true or false
        crop_mode = q["mode"] == "crop"  # windows of the (crop + 2m) center crop at (m + dy, m + dx)
        verdict.rule((crop + 2 * shift if crop_mode else crop) <= resize, CROP_LARGER)
        _fixed(verdict, side**2, side**2 - 1, max_offsets, (0, 2 * shift) if crop_mode else (-shift, shift))
    return verdict


def _drawn(verdict: Verdict, pairs: int, most_views: int, max_offsets: int, offsets: tuple[int, int]) -> None:
    """Random pairs: `pairs` of them; within the limit for sure when even `most_views` distinct offsets are."""
    if most_views > max_offsets:  # how many distinct offsets the draw gives decides
        verdict.refusals.add(TOO_MANY_SHIFTS)
        verdict.may_succeed = True
    verdict.pairs, verdict.offset_range = pairs, offsets


def _fixed(verdict: Verdict, views: int, pairs: int, max_offsets: int, offsets: tuple[float, float]) -> None:
    """A plan the parameters decide: `views` distinct offsets (refused beyond the limit), `pairs` compared."""
    verdict.rule(views <= max_offsets, TOO_MANY_SHIFTS)
    verdict.views, verdict.pairs, verdict.offset_range = views, pairs, offsets


def sequence_verdict(query: Mapping[str, Any], frames: int, max_frames: int) -> Verdict:
    """The verdict of /v1/sequence on a schema-valid query with `frames` frames sent (or in the video), under
    PROBE_SEQUENCE__MAX_FRAMES `max_frames`: every `stride`-th frame from the first, at most the parameter
    `max_frames` of them (the limit by default; the schema states that it may not exceed the limit), at least two."""
    stride, most = query.get("stride") or 1, query.get("max_frames") or max_frames
    verdict = Verdict(frames_used=list(range(0, frames, stride))[:most])
    verdict.rule(len(verdict.frames_used) >= MIN_FRAMES, TOO_FEW_FRAMES)
    return verdict
