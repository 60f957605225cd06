"""Shift requests: which shifted views of one image to classify, and the geometry rules they obey (torch-free).

Two kinds, as in the paper and the APS paper:
- ``crop``: the image is resized (shorter side `resize_size`) and center-cropped to `base_size`;
  each offset (dy, dx) selects the window ``base[dy:dy+crop_size, dx:dx+crop_size]``. The paper's
  `--evaluate-shift` is base 256, crop 224, offsets in [0, 32)^2.
- ``circular``: the image is resized and center-cropped to `crop_size`, then rolled by (dy, dx)
  with wrap-around (``torch.roll``); offsets in [-crop_size, crop_size].

Sub-pixel views: with a `method` (``fourier`` or ``bilinear``) offsets may be fractions of a pixel. The image
the views come from (the center crop) is then shifted circularly by the offset, by a phase ramp in the 2D
Fourier domain (an ideal band-limited shift, as Michaeli et al. CVPR 2023) or by bilinear resampling with
wrap-around: a circular view is that shifted crop, a crop view the top-left window of the base shifted by
(-dy, -dx). An integer offset gives the integer view to float precision, whatever the method.

`antialiased.transforms.shifted_views` cuts the views, all from one decoded image; nothing is re-encoded.
The geometry rules live here only: the protocols and the handler both check them through `ShiftRequest`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from antialiased._deprecated import renamed_keywords, renamed_names
from antialiased.errors import ApiError, ErrorCode
from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE, SHIFT_BASE_SIZE

ShiftMode = Literal["crop", "circular"]
SHIFT_MODES: tuple[str, ...] = ("crop", "circular")
SubpixelMethod = Literal["fourier", "bilinear"]
SUBPIXEL_METHODS: tuple[str, ...] = ("fourier", "bilinear")
MAX_OFFSETS_PER_REQUEST = 1089  # 33 x 33: every offset of the paper's 32-pixel range
MIN_CROP_SIZE = 32
# The largest crop_size: the memory of one view in a forward pass grows with its square (see archives/model-config.yaml,
# whose handler.limits.max_crop_size is this by default; the probe API's schema states it).
MAX_CROP_SIZE = 512
MAX_IMAGE_SIDE = 1024  # resize_size / base_size bound: keeps one request's tensors bounded
# View pixels (views x crop area) of one shift request to the handler (its max_view_pixels_per_request): a larger
# probe is sent as several such requests one after another (`ShiftRequest.chunks`), so that a plain classification
# waits behind one of them, not the whole probe. 64 views of 224 x 224: the paper's default probe (32 pairs) is one.
MAX_VIEW_PIXELS_PER_REQUEST = 64 * CROP_SIZE**2

Offset = tuple[int, int]
SubpixelOffset = tuple[float, float]  # (dy, dx) in pixels, fractions allowed with a sub-pixel method


def offset_bounds(mode: str, crop_size: int, base_size: int) -> tuple[int, int]:
    """The smallest and largest valid dy (and dx): [0, base - crop] for crops, [-crop, crop] for circular shifts."""
    return (0, base_size - crop_size) if mode == "crop" else (-crop_size, crop_size)


def check_window(mode: str, crop_size: int, base_size: int, resize_size: int) -> None:
    """The window must fit in the image it is cut from; raise ApiError crop_larger_than_image if not."""
    if mode == "crop":
        if base_size > resize_size:
            message = f"crop_size {crop_size} + shift range {base_size - crop_size} = {base_size}"
            _too_large(f"{message} is larger than the resized image", resize_size)
        if crop_size > base_size:
            _too_large(f"crop_size {crop_size} is larger than the image it is cut from ({base_size})", resize_size)
    elif crop_size > resize_size:
        _too_large(f"crop_size {crop_size} is larger than the resized image", resize_size)


def check_offset_range(low: int, high: int, bounds: tuple[int, int], what: str = "offset") -> None:
    """Every coordinate in [low, high] must lie within `bounds`; raise ApiError invalid_parameter if not."""
    if low < bounds[0] or high > bounds[1]:
        raise ApiError(
            ErrorCode.INVALID_PARAMETER, f"{what} range [{low}, {high}] is outside [{bounds[0]}, {bounds[1]}]"
        )


def _too_large(message: str, resize_size: int) -> None:
    raise ApiError(ErrorCode.CROP_LARGER_THAN_IMAGE, f"{message} (shorter side resized to {resize_size})")


@dataclass(frozen=True)
class ShiftRequest:
    """Which shifted views of an image to classify; see the module docstring. Invalid values raise ApiError."""

    offsets: tuple[Offset, ...] | tuple[SubpixelOffset, ...]
    mode: ShiftMode = "crop"
    crop_size: int = CROP_SIZE
    base_size: int = SHIFT_BASE_SIZE
    resize_size: int = RESIZE_SIZE
    max_offsets: int = field(default=MAX_OFFSETS_PER_REQUEST, compare=False, repr=False)
    max_crop_size: int = field(default=MAX_CROP_SIZE, compare=False, repr=False)
    method: SubpixelMethod | None = None  # None: integer offsets only; else how sub-pixel views are resampled

    def __post_init__(self) -> None:
        self.validate()

    @property
    def center_crop(self) -> int:
        """The side of the center crop the views come from: `base_size` for crops, `crop_size` for circular shifts."""
        return self.base_size if self.mode == "crop" else self.crop_size

    @property
    def view_pixels(self) -> int:
        """The pixels of all views together (views x crop area): what the model's forward passes cost."""
        return len(self.offsets) * self.crop_size**2

    def chunks(self, max_view_pixels: int | None, max_views: int | None = None) -> list[ShiftRequest]:
        """This request as consecutive requests of at most `max_view_pixels` view pixels each (one view at least),
        in the order of the offsets, and when it is split, of at most `max_views` views each; `[self]` when it fits,
        or for None."""
        if max_view_pixels is None or self.view_pixels <= max_view_pixels:
            return [self]
        per_chunk = max(1, min(max_view_pixels // self.crop_size**2, max_views or len(self.offsets)))
        starts = range(0, len(self.offsets), per_chunk)
        return [dataclasses.replace(self, offsets=self.offsets[start : start + per_chunk]) for start in starts]

    @property
    def bounds(self) -> tuple[int, int]:
        """The valid range of each offset coordinate."""
        return offset_bounds(self.mode, self.crop_size, self.base_size)

    def validate(self) -> None:
        """Raise ApiError naming the first problem found."""
        if self.mode not in SHIFT_MODES:
            raise ApiError(
                ErrorCode.INVALID_PARAMETER, f"unknown shift mode {self.mode!r}; use one of {', '.join(SHIFT_MODES)}"
            )
        for name, largest in (("crop_size", self.max_crop_size), ("base_size", MAX_IMAGE_SIDE),
                              ("resize_size", MAX_IMAGE_SIDE)):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not MIN_CROP_SIZE <= value <= largest:
                message = f"{name} must be an integer in [{MIN_CROP_SIZE}, {largest}], got {value!r}"
                raise ApiError(ErrorCode.INVALID_PARAMETER, message)
        check_window(self.mode, self.crop_size, self.base_size, self.resize_size)
        if self.method is not None and self.method not in SUBPIXEL_METHODS:
            message = f"unknown sub-pixel method {self.method!r}; use one of {', '.join(SUBPIXEL_METHODS)}"
            raise ApiError(ErrorCode.INVALID_PARAMETER, message)
        if not self.offsets:
            raise ApiError(ErrorCode.INVALID_PARAMETER, "offsets must be a non-empty list of [dy, dx] pairs")
        if len(self.offsets) > self.max_offsets:
            raise ApiError(
                ErrorCode.TOO_MANY_SHIFTS, f"too many shifts: {len(self.offsets)} > {self.max_offsets} per request"
            )
        low, high = self.bounds
        for dy, dx in self.offsets:
            if self.method is None and not (_is_int(dy) and _is_int(dx)):
                raise ApiError(ErrorCode.INVALID_PARAMETER, f"offset ({dy}, {dx}) is not integer: name a method")
            if not (low <= dy <= high and low <= dx <= high):
                raise ApiError(
                    ErrorCode.INVALID_PARAMETER,
                    f"{self.mode} offset ({dy}, {dx}) is outside [{low}, {high}] "
                    f"for crop_size {self.crop_size} in {self.base_size if self.mode == 'crop' else self.resize_size}",
                )

    @classmethod
    @renamed_keywords(max_shifts="max_offsets")
    def from_json(
        cls, data: Any, max_offsets: int = MAX_OFFSETS_PER_REQUEST, max_crop_size: int = MAX_CROP_SIZE
    ) -> ShiftRequest:
        """Parse the JSON object of the handler contract; raise ApiError on any problem."""
        if not isinstance(data, dict):
            raise ApiError(ErrorCode.BAD_SHIFT_REQUEST, "shift request must be a JSON object")
        unknown = set(data) - {"offsets", "mode", "crop_size", "base_size", "resize_size", "method"}
        if unknown:
            raise ApiError(ErrorCode.BAD_SHIFT_REQUEST, f"unknown shift request fields: {', '.join(sorted(unknown))}")
        offsets, method = data.get("offsets"), data.get("method")
        check = _is_offset if method is None else _is_subpixel_offset
        if not isinstance(offsets, list) or not all(check(o) for o in offsets):
            kind = "integer" if method is None else "finite number"
            raise ApiError(ErrorCode.BAD_SHIFT_REQUEST, f"offsets must be a list of [dy, dx] {kind} pairs")
        kwargs = {k: data[k] for k in ("mode", "crop_size", "base_size", "resize_size", "method") if k in data}
        offsets = tuple((dy, dx) for dy, dx in offsets)
        return cls(offsets=offsets, max_offsets=max_offsets, max_crop_size=max_crop_size, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """The JSON object `from_json` reads."""
        return {
            "mode": self.mode,
            "offsets": [list(o) for o in self.offsets],
            "crop_size": self.crop_size,
            "base_size": self.base_size,
            "resize_size": self.resize_size,
        } | ({"method": self.method} if self.method is not None else {})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_offset(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value)


def _is_subpixel_offset(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all((_is_int(v) or isinstance(v, float)) and math.isfinite(v) for v in value)
    )


ShiftRequest.__init__ = renamed_keywords(max_shifts="max_offsets")(ShiftRequest.__init__)  # type: ignore[method-assign]
__getattr__ = renamed_names(__name__, {"MAX_SHIFTS_PER_REQUEST": "MAX_OFFSETS_PER_REQUEST"})
