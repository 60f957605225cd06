"""The paper's evaluation preprocessing on uint8 image tensors (3, H, W), and the shifted views of one image.

On the CPU the resize is Pillow's bilinear resize, exactly as the paper's `transforms.Resize(256)` on PIL
images, so its numbers are reproduced to the last digit; on a GPU it is torchvision's antialiased tensor
resize, which can differ from Pillow's by one grey level on a few pixels. Everything after the resize
(crops, circular shifts, normalisation) runs on `device` (default: the image's), so a worker can resize
on the CPU and cut many views on its GPU from one small base image.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from antialiased.preprocessing import CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD, RESIZE_SIZE
from antialiased.shifts import ShiftRequest
from antialiased.subpixel import subpixel_shifts


def resize_center_crop(image: torch.Tensor, crop_size: int, resize_size: int = RESIZE_SIZE) -> torch.Tensor:
    """Resize the shorter side to `resize_size` (bilinear, antialiased), then center-crop `crop_size`."""
    if image.device.type == "cpu":
        resized = TF.pil_to_tensor(TF.resize(TF.to_pil_image(image), [resize_size], InterpolationMode.BILINEAR))
    else:
        resized = TF.resize(image, [resize_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(resized, [crop_size, crop_size])


def normalize(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 images (..., 3, H, W) -> float, scaled to [0, 1] and normalised by ImageNet mean/std."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device, dtype=dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device, dtype=dtype).view(3, 1, 1)
    return (images.to(dtype) / 255.0 - mean) / std


def preprocess(
    image: torch.Tensor, crop_size: int = CROP_SIZE, device: torch.device | str | None = None
) -> torch.Tensor:
    """One uint8 image (3, H, W) -> the normalised (3, crop, crop) model input of the paper's evaluation."""
    return normalize(_to(resize_center_crop(image, crop_size), device))


def shifted_views(
    image: torch.Tensor,
    request: ShiftRequest,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """One uint8 image (3, H, W) -> the normalised batch (len(offsets), 3, crop, crop) of its shifted views.

    See `antialiased.shifts`: crop windows of the `base_size` center crop, or circular shifts of the
    `crop_size` center crop; with a sub-pixel `method`, shifted by `antialiased.subpixel` in float.
    """
    size = request.crop_size
    base = _to(resize_center_crop(image, request.center_crop, request.resize_size), device)
    if request.method is not None:
        float_base = base.to(torch.float64 if dtype == torch.float64 else torch.float32)
        if request.mode == "crop":  # the window at (dy, dx) is the top-left window of the base shifted by (-dy, -dx)
            negated = [(-dy, -dx) for dy, dx in request.offsets]
            return normalize(subpixel_shifts(float_base, negated, request.method, size), dtype)
        return normalize(subpixel_shifts(float_base, request.offsets, request.method), dtype)
    if request.mode == "crop":
        views = torch.stack([base[:, dy : dy + size, dx : dx + size] for dy, dx in request.offsets])
    else:
        views = torch.stack([torch.roll(base, shifts=(dy, dx), dims=(1, 2)) for dy, dx in request.offsets])
    return normalize(views, dtype)


def _to(image: torch.Tensor, device: torch.device | str | None) -> torch.Tensor:
    """`image` on `device`; a small CPU image goes through pinned memory so the copy overlaps other work."""
    if device is None:
        return image
    if image.device.type == "cpu" and torch.device(device).type == "cuda":
        return image.pin_memory().to(device, non_blocking=True)
    return image.to(device)
