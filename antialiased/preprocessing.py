"""Preprocessing of the paper's ImageNet evaluation: Resize(256) -> CenterCrop -> mean/std.

Images enter as uint8 tensors (3, H, W) on any device; all steps run on that device, so the
handler can decode and preprocess on the GPU.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

RESIZE_SIZE = 256  # shorter side after resizing
CROP_SIZE = 224  # model input for plain classification
SHIFT_BASE_SIZE = 256  # center crop in which the paper's shifted 224 windows move
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_center_crop(image: torch.Tensor, crop_size: int, resize_size: int = RESIZE_SIZE) -> torch.Tensor:
    """Resize the shorter side to `resize_size` (bilinear, antialiased), then center-crop `crop_size`."""
    image = TF.resize(image, [resize_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(image, [crop_size, crop_size])


def normalize(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 images (..., 3, H, W) -> float, scaled to [0, 1] and normalised by ImageNet mean/std."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device, dtype=dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device, dtype=dtype).view(3, 1, 1)
    return (images.to(dtype) / 255.0 - mean) / std


def preprocess(image: torch.Tensor, crop_size: int = CROP_SIZE) -> torch.Tensor:
    """One uint8 image (3, H, W) -> the normalised (3, crop, crop) model input of the paper's evaluation."""
    return normalize(resize_center_crop(image, crop_size))
