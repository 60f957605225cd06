"""Image bytes -> a validated uint8 RGB tensor (3, H, W), for the handler and the probe service.

Limits are checked on the bytes and on the header before anything is decoded in full, so a small
file that declares a huge image (a decompression bomb) is refused cheaply. JPEG decodes with
torchvision (on the GPU when a CUDA device is given); every other format and colour mode goes through
Pillow. Whatever the source, the result is 8-bit RGB with the EXIF orientation applied: grayscale and
palette images are expanded, transparency is composited on white, CMYK is converted, 16-bit samples
are scaled to 8 bits, and only the first frame of an animation is used.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.io as tvio
from PIL import Image, UnidentifiedImageError

from antialiased.errors import InputError

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # largest accepted file
MAX_IMAGE_PIXELS = 50_000_000  # largest accepted width * height (a 50-megapixel photo)
MIN_IMAGE_SIDE = 32  # smallest accepted width and height

# Pillow's names of the accepted formats; its JPEG reader also opens multi-picture JPEGs (format "MPO").
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_JPEG_FORMATS = ("JPEG", "MPO")
_TORCHVISION_JPEG_MODES = ("L", "RGB", "CMYK")  # modes torchvision's decode_jpeg converts to RGB like Pillow
_GPU_JPEG_MODES = ("L", "RGB")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255, 255)


class ImageError(InputError):
    """An image that is refused (see InputError)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: Pillow's format and mode, the stored size and the EXIF orientation (1..8)."""

    format: str
    mode: str
    width: int
    height: int
    orientation: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height


def inspect_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    min_side: int = MIN_IMAGE_SIDE,
) -> ImageInfo:
    """Check size, format and declared dimensions from the header only; raise ImageError on any problem."""
    info, _ = _open(data, max_bytes=max_bytes, max_pixels=max_pixels, min_side=min_side)
    return info


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    min_side: int = MIN_IMAGE_SIDE,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Decode an image file to a uint8 RGB tensor (3, H, W) on `device`, EXIF orientation applied.

    Raises ImageError: empty_body, image_too_large (413), too_many_pixels (413), image_too_small, or
    invalid_image (not an image, a format other than ACCEPTED_FORMATS, truncated or corrupt data).
    """
    info, image = _open(data, max_bytes=max_bytes, max_pixels=max_pixels, min_side=min_side)
    device = torch.device(device)
    orientation = info.orientation
    try:
        if info.format in _JPEG_FORMATS and info.mode in _TORCHVISION_JPEG_MODES:
            on_gpu = device.type == "cuda" and info.mode in _GPU_JPEG_MODES
            encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            rgb = tvio.decode_jpeg(encoded, mode=tvio.ImageReadMode.RGB, device=device if on_gpu else "cpu")
        else:
            rgb = _pillow_to_rgb_tensor(image)
            orientation = _orientation(image)  # again after loading: a PNG may carry its EXIF after the pixels
    except (OSError, RuntimeError, ValueError, SyntaxError) as error:
        raise ImageError("invalid_image", f"the {info.format} image cannot be decoded: {_reason(error)}") from None
    finally:
        image.close()
    if tuple(rgb.shape[-2:]) != (info.height, info.width):
        raise ImageError(
            "invalid_image",
            f"decoded {tuple(rgb.shape[-2:])} pixels, the header declares {info.height}x{info.width}",
        )
    return apply_exif_orientation(rgb, orientation).to(device)


def apply_exif_orientation(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """Turn an image (..., H, W) as stored into the upright image that EXIF `orientation` (1..8) describes."""
    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-2, -1)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-2, -1)
    if orientation == 6:
        return image.rot90(-1, dims=(-2, -1))
    if orientation == 7:
        return image.transpose(-2, -1).flip(-2, -1)
    if orientation == 8:
        return image.rot90(1, dims=(-2, -1))
    return image


def _open(data: bytes, *, max_bytes: int, max_pixels: int, min_side: int) -> tuple[ImageInfo, Image.Image]:
    """Validate the bytes and the header; return the header's facts and the lazily opened image."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError("invalid_image", f"expected image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("empty_body", "the request holds no image bytes")
    if len(data) > max_bytes:
        raise ImageError("image_too_large", f"the image has {len(data)} bytes, more than the {max_bytes} allowed", 413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise ImageError("too_many_pixels", f"{error}; at most {max_pixels} pixels are allowed", 413) from None
    except UnidentifiedImageError:
        raise ImageError(
            "invalid_image", f"not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})"
        ) from None
    except (OSError, ValueError, SyntaxError, struct.error) as error:
        raise ImageError("invalid_image", f"the image header cannot be read: {_reason(error)}") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageError(
            "too_many_pixels", f"the image declares {width}x{height} pixels, more than the {max_pixels} allowed", 413
        )
    if min(width, height) < min_side:
        image.close()
        raise ImageError("image_too_small", f"the image is {width}x{height}; both sides must be at least {min_side}")
    return ImageInfo(image.format, image.mode, width, height, _orientation(image)), image


def _orientation(image: Image.Image) -> int:
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not refuse an image whose pixels are fine
        return 1
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def _pillow_to_rgb_tensor(image: Image.Image) -> torch.Tensor:
    """Decode the first frame with Pillow and convert it to 8-bit RGB, as a (3, H, W) uint8 tensor."""
    image.seek(0)
    image.load()
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own conversion to "L" clips 16-bit samples at 255 instead of scaling them.
        samples = np.asarray(image).astype(np.uint32).clip(0, 65535)
        gray = ((samples + 128) // 257).astype(np.uint8)
        return torch.from_numpy(gray).expand(3, *gray.shape).contiguous()
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
    rgb = np.asarray(image.convert("RGB"))
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
