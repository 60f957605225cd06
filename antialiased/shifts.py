"""Shift requests: which shifted views of one image to classify, and how to make them.

Two kinds, as in the paper and the APS paper:
- ``crop``: the image is resized (shorter side `resize_size`) and center-cropped to `base_size`;
  each offset (dy, dx) selects the window ``base[dy:dy+crop_size, dx:dx+crop_size]``. The paper's
  `--evaluate-shift` is base 256, crop 224, offsets in [0, 32)^2.
- ``circular``: the image is resized and center-cropped to `crop_size`, then rolled by (dy, dx)
  with wrap-around (``torch.roll``); offsets in [-crop_size, crop_size].

All views come from one decoded tensor on the model's device: nothing is re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE, SHIFT_BASE_SIZE, normalize, resize_center_crop

ShiftMode = Literal["crop", "circular"]
SHIFT_MODES: tuple[str, ...] = ("crop", "circular")
MAX_SHIFTS_PER_REQUEST = 1089  # 33 x 33: every offset of the paper's 32-pixel range
MIN_CROP_SIZE = 32
MAX_IMAGE_SIDE = 1024  # resize_size / base_size bound: keeps one request's tensors bounded

Offset = tuple[int, int]


class ShiftRequestError(ValueError):
    """A shift request that cannot be served; the message names the problem."""


@dataclass(frozen=True)
class ShiftRequest:
    """Which shifted views of an image to classify; see the module docstring."""

    offsets: tuple[Offset, ...]
    mode: ShiftMode = "crop"
    crop_size: int = CROP_SIZE
    base_size: int = SHIFT_BASE_SIZE
    resize_size: int = RESIZE_SIZE
    max_shifts: int = field(default=MAX_SHIFTS_PER_REQUEST, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def max_offset(self) -> int:
        """Largest valid crop offset on each axis."""
        return self.base_size - self.crop_size

    def validate(self) -> None:
        """Raise ShiftRequestError naming the first problem found."""
        if self.mode not in SHIFT_MODES:
            raise ShiftRequestError(f"unknown shift mode {self.mode!r}; use one of {', '.join(SHIFT_MODES)}")
        for name in ("crop_size", "base_size", "resize_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not MIN_CROP_SIZE <= value <= MAX_IMAGE_SIDE:
                raise ShiftRequestError(
                    f"{name} must be an integer in [{MIN_CROP_SIZE}, {MAX_IMAGE_SIDE}], got {value!r}"
                )
        if not self.offsets:
            raise ShiftRequestError("offsets must be a non-empty list of [dy, dx] pairs")
        if len(self.offsets) > self.max_shifts:
            raise ShiftRequestError(f"too many shifts: {len(self.offsets)} > {self.max_shifts} per request")
        if self.mode == "crop":
            self._validate_crop()
        else:
            self._validate_circular()

    def _validate_crop(self) -> None:
        if self.base_size > self.resize_size:
            raise ShiftRequestError(f"base_size {self.base_size} is larger than the resized image ({self.resize_size})")
        if self.crop_size > self.base_size:
            raise ShiftRequestError(
                f"crop_size {self.crop_size} is larger than the image it is cut from ({self.base_size})"
            )
        for dy, dx in self.offsets:
            if not (0 <= dy <= self.max_offset and 0 <= dx <= self.max_offset):
                raise ShiftRequestError(
                    f"offset ({dy}, {dx}) is outside [0, {self.max_offset}] "
                    f"for crop_size {self.crop_size} in {self.base_size}"
                )

    def _validate_circular(self) -> None:
        if self.crop_size > self.resize_size:
            raise ShiftRequestError(f"crop_size {self.crop_size} is larger than the resized image ({self.resize_size})")
        for dy, dx in self.offsets:
            if not (abs(dy) <= self.crop_size and abs(dx) <= self.crop_size):
                raise ShiftRequestError(
                    f"circular offset ({dy}, {dx}) is outside [-{self.crop_size}, {self.crop_size}]"
                )

    @classmethod
    def from_json(cls, data: Any, max_shifts: int = MAX_SHIFTS_PER_REQUEST) -> ShiftRequest:
        """Parse the JSON object sent by the probe service; raise ShiftRequestError on any problem."""
        if not isinstance(data, dict):
            raise ShiftRequestError("shift request must be a JSON object")
        unknown = set(data) - {"offsets", "mode", "crop_size", "base_size", "resize_size"}
        if unknown:
            raise ShiftRequestError(f"unknown shift request fields: {', '.join(sorted(unknown))}")
        offsets = data.get("offsets")
        if not isinstance(offsets, list) or not all(_is_offset(o) for o in offsets):
            raise ShiftRequestError("offsets must be a list of [dy, dx] integer pairs")
        kwargs = {k: data[k] for k in ("mode", "crop_size", "base_size", "resize_size") if k in data}
        return cls(offsets=tuple((int(dy), int(dx)) for dy, dx in offsets), max_shifts=max_shifts, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """The JSON object `from_json` reads."""
        return {
            "mode": self.mode,
            "offsets": [list(o) for o in self.offsets],
            "crop_size": self.crop_size,
            "base_size": self.base_size,
            "resize_size": self.resize_size,
        }


def _is_offset(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def shifted_views(image: torch.Tensor, request: ShiftRequest, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One uint8 image (3, H, W) -> the normalised batch (len(offsets), 3, crop, crop) of its shifted views."""
    if request.mode == "crop":
        base = resize_center_crop(image, request.base_size, request.resize_size)
        size = request.crop_size
        views = torch.stack([base[:, dy : dy + size, dx : dx + size] for dy, dx in request.offsets])
    else:
        base = resize_center_crop(image, request.crop_size, request.resize_size)
        views = torch.stack([torch.roll(base, shifts=(dy, dx), dims=(1, 2)) for dy, dx in request.offsets])
    return normalize(views, dtype)
