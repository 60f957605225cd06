"""The shifted views of one image, cut by the service itself for probe targets that take no shift requests.

Torch-free, and pixel for pixel what `antialiased.transforms.shifted_views` cuts on the CPU before normalising:
the strictly decoded upright RGB image (`antialiased.imagefile.decode_rgb`), its shorter side resized to
`resize_size` with Pillow's bilinear filter (the paper's `transforms.Resize`), the center crop (torchvision's
rounding), then `crop_size` windows at the offsets of a crop request, or circular shifts of the center crop.

Sub-pixel views (a request with a `method`) are shifted here in numpy by the definitions of `antialiased.subpixel`
(the service imports no torch: the Fourier shift is numpy's FFT, the bilinear one four rolls), then rounded and
clipped to uint8, since these targets take images: they differ from the handler's float views by that rounding.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from antialiased.imagefile import ImageInfo, ImageLimits, decode_rgb
from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE
from antialiased.shifts import ShiftRequest


def resize_center_crop(pixels: np.ndarray, crop_size: int, resize_size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> its shorter side resized to `resize_size` (bilinear), center-cropped to `crop_size`."""
    height, width = pixels.shape[:2]
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(resize_size * long / short)
    size = (resize_size, new_long) if width <= height else (new_long, resize_size)  # Pillow's (width, height)
    resized = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
    top, left = round((size[1] - crop_size) / 2.0), round((size[0] - crop_size) / 2.0)  # torchvision's rounding
    return resized[top : top + crop_size, left : left + crop_size]


def cut_views(pixels: np.ndarray, request: ShiftRequest) -> np.ndarray:
    """(H, W, 3) uint8 -> the (len(offsets), crop, crop, 3) uint8 views of `request`."""
    size = request.crop_size
    base = resize_center_crop(pixels, request.center_crop, request.resize_size)
    if request.method is not None:
        sign = -1 if request.mode == "crop" else 1  # a crop window at (dy, dx): the base shifted by (-dy, -dx)
        shift = fourier_shift if request.method == "fourier" else bilinear_shift
        views = [shift(base, sign * dy, sign * dx)[:size, :size] for dy, dx in request.offsets]
        return np.clip(np.rint(np.stack(views)), 0, 255).astype(np.uint8)
    if request.mode == "crop":
        return np.stack([base[dy : dy + size, dx : dx + size] for dy, dx in request.offsets])
    return np.stack([np.roll(base, (dy, dx), axis=(0, 1)) for dy, dx in request.offsets])


def fourier_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """(H, W, C) -> float64, shifted circularly by (dy, dx) by a phase ramp (see `antialiased.subpixel`)."""
    height, width = image.shape[:2]
    phase = np.fft.fftfreq(height)[:, None] * dy + np.fft.fftfreq(width)[None, :] * dx
    ramp = np.exp(-2j * np.pi * (phase - np.round(phase)))[:, :, None]
    return np.fft.ifft2(np.fft.fft2(image.astype(np.float64), axes=(0, 1)) * ramp, axes=(0, 1)).real


def bilinear_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """(H, W, C) -> float64, shifted circularly by (dy, dx) with bilinear interpolation (see `antialiased.subpixel`)."""
    iy, ix = math.floor(dy), math.floor(dx)
    fy, fx = dy - iy, dx - ix
    image = image.astype(np.float64)
    rows = (1 - fy) * np.roll(image, iy, axis=0) + fy * np.roll(image, iy + 1, axis=0)
    return (1 - fx) * np.roll(rows, ix, axis=1) + fx * np.roll(rows, ix + 1, axis=1)


def image_views(image: bytes, request: ShiftRequest, limits: ImageLimits, info: ImageInfo | None = None) -> np.ndarray:
    """The views of an encoded image (`info`: its header, when read already); a corrupt image is an ApiError
    (invalid_image), never grey pixels."""
    return cut_views(decode_rgb(image, limits, info), request)


def frame_views(frames: list[bytes], limits: ImageLimits, infos: list[ImageInfo]) -> np.ndarray:
    """The (len(frames), 224, 224, 3) uint8 center crops of a sequence's frames (a plain classification's view), the
    frames decoded one at a time."""
    pairs = zip(frames, infos, strict=True)
    return np.stack([resize_center_crop(decode_rgb(f, limits, i), CROP_SIZE, RESIZE_SIZE) for f, i in pairs])


def frame_view_pixels(frame_pixels: list[int]) -> int:
    """Pixels held while a sequence's center crops are cut and sent: the largest frame and the crops."""
    return max(frame_pixels) + len(frame_pixels) * CROP_SIZE**2


def view_pixels(image_pixels: int, request: ShiftRequest) -> int:
    """Pixels held while the views of an image of `image_pixels` are cut and sent: the image and its views."""
    return image_pixels + len(request.offsets) * request.crop_size**2


def encode_view(view: np.ndarray, image_format: str) -> bytes:
    """A view as an image file: PNG (lossless, fast compression) or JPEG (quality 95)."""
    buffer = io.BytesIO()
    options = {"compress_level": 1} if image_format == "PNG" else {"quality": 95}
    Image.fromarray(view).save(buffer, image_format, **options)
    return buffer.getvalue()
