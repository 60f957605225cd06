"""The preprocessing of the paper's ImageNet evaluation, as numbers (torch-free): Resize(256) -> CenterCrop -> mean/std.

The functions that apply it to tensors are in `antialiased.transforms`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

RESIZE_SIZE = 256  # shorter side after resizing
CROP_SIZE = 224  # model input for plain classification
SHIFT_BASE_SIZE = 256  # center crop in which the paper's shifted 224 windows move
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """What a model expects of an RGB image: its shorter side resized to `resize_size`, a `crop_size` center crop,
    values scaled to [0, 1] then normalised by `mean` and `std` per channel (an exported model's facts)."""

    resize_size: int = RESIZE_SIZE
    crop_size: int = CROP_SIZE
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


PAPER_PREPROCESSING = Preprocessing()  # what the handler, the probe and the evaluation apply
