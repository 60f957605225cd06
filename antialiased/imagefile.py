"""Image bytes -> the header's facts, or strictly decoded upright 8-bit RGB pixels (torch-free).

Limits are checked on the bytes and on the header before anything is decoded, so a small file that
declares a huge image (a decompression bomb) is refused cheaply, and `inspect_image` never decodes
pixels at all (a PNG too small for its declared rows is refused from its size). `decode_rgb` refuses truncated
or corrupt data instead of filling the missing pixels with black or grey: JPEGs are decoded (or, CMYK ones,
checked) by libjpeg-turbo (simplejpeg) with its warnings treated as errors; every other format by Pillow, whose
load errors are never swallowed (a PNG whose last row decodes all zero has its data measured too:
`antialiased.pngdata`; Pillow leaves the rows of data that ends early zero). Whatever
the source, the result is 8-bit RGB with the EXIF orientation applied: grayscale and palette images are
expanded, transparency is composited on white, CMYK is converted, 16-bit samples are scaled to 8 bits, and
only the first frame of an animation is used.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from antialiased.errors import ApiError, ErrorCode
from antialiased.pngdata import check_png_data, check_png_size

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # largest accepted file
MAX_IMAGE_PIXELS = 50_000_000  # largest accepted width * height (a 50-megapixel photo)
# Decoded pixels one batch of the handler may hold (two largest images and room for small ones); the probe service
# holds one Open Inference Protocol request to it, so that a request never waits on its own images.
MAX_PIXELS_PER_BATCH = 110_000_000
MIN_IMAGE_SIDE = 32  # smallest accepted width and height
# Longest side / shortest side. Resizing the shorter side to 256 (up to 1024 for shift requests) scales the
# longer side by the same factor: a 32 x 1,500,000 PNG of a few kB would become 3 billion pixels.
MAX_ASPECT_RATIO = 20

# Pillow's names of the accepted formats; its JPEG reader also opens multi-picture JPEGs (format "MPO").
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
JPEG_FORMATS = ("JPEG", "MPO")
RGB_JPEG_MODES = ("L", "RGB")  # JPEG colour spaces that libjpeg-turbo (and nvJPEG) turn into RGB themselves
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255, 255)
# EXIF orientation 1..8 -> (transpose, flip rows, flip columns) that turn the stored image upright.
ORIENTATION_STEPS: dict[int, tuple[bool, bool, bool]] = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}


@dataclass(frozen=True)
class ImageLimits:
    """What an accepted image may be: at most `max_bytes` and `max_pixels`, both sides at least `min_side`, the
    longer side at most `max_aspect_ratio` times the shorter."""

    max_bytes: int = MAX_IMAGE_BYTES
    max_pixels: int = MAX_IMAGE_PIXELS
    min_side: int = MIN_IMAGE_SIDE
    max_aspect_ratio: int = MAX_ASPECT_RATIO

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"image limit {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: Pillow's format and mode, the stored size and the EXIF orientation (1..8;
    1 where the header does not tell, e.g. a PNG whose EXIF comes after its pixels)."""

    format: str
    mode: str
    width: int
    height: int
    orientation: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def is_rgb_jpeg(self) -> bool:
        """A JPEG that libjpeg-turbo and nvJPEG decode to RGB directly (grayscale or YCbCr)."""
        return self.format in JPEG_FORMATS and self.mode in RGB_JPEG_MODES


def inspect_image(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageInfo:
    """Check size, format and declared dimensions from the header only; raise ApiError on any problem."""
    info, image = _open(data, limits)
    image.close()
    return info


def decode_rgb(data: bytes, limits: ImageLimits = ImageLimits(), info: ImageInfo | None = None) -> np.ndarray:
    """Decode an image file to upright 8-bit RGB pixels, an (H, W, 3) uint8 array, refusing corrupt data.

    `info`, the header when the caller has read it already (`inspect_image`): an RGB or grayscale JPEG then goes
    straight to libjpeg-turbo, without opening its header again.
    Raises ApiError: empty_body, image_too_large (413), too_many_pixels (413), image_too_small, or
    invalid_image (not an image, a format other than ACCEPTED_FORMATS, truncated or corrupt data).
    """
    image = None
    if info is None or not info.is_rgb_jpeg:
        info, image = _open(data, limits)
    try:
        if info.is_rgb_jpeg:
            pixels, orientation = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True), info.orientation
        elif info.format in JPEG_FORMATS:
            pixels, orientation = _cmyk_jpeg_rgb(data, image), info.orientation
        else:
            pixels = _pillow_rgb(image)
            if info.format == "PNG" and _may_have_ended_early(image):
                check_png_data(data, info.width, info.height)
            orientation = _orientation(image)  # again after loading: a PNG may carry its EXIF after the pixels
    except (OSError, RuntimeError, ValueError, SyntaxError, struct.error) as error:
        raise ApiError(
            ErrorCode.INVALID_IMAGE, f"the {info.format} image cannot be decoded: {error_text(error)}"
        ) from None
    finally:
        if image is not None:
            image.close()
    if pixels.shape[:2] != (info.height, info.width):
        raise ApiError(
            ErrorCode.INVALID_IMAGE,
            f"decoded {pixels.shape[:2]} pixels, the header declares {info.height}x{info.width}",
        )
    return np.ascontiguousarray(orient_hwc(pixels, orientation))


def orient_hwc(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The upright view of (H, W, C) pixels stored under EXIF `orientation` (see ORIENTATION_STEPS)."""
    transpose, flip_rows, flip_columns = ORIENTATION_STEPS.get(orientation, ORIENTATION_STEPS[1])
    if transpose:
        pixels = pixels.transpose(1, 0, 2)
    if flip_rows:
        pixels = pixels[::-1]
    if flip_columns:
        pixels = pixels[:, ::-1]
    return pixels


def check_jpeg_structure(data: bytes, info: ImageInfo) -> None:
    """Refuse a JPEG whose entropy-coded data cannot hold the pixels its header declares, for decoders that
    fill missing data silently (nvJPEG). Every 8x8 luma block costs at least one bit (its DC code, also in a
    progressive JPEG), so a complete image needs at least width * height / 64 bits; it must also end with EOI."""
    minimum_bytes = info.width * info.height // 512
    if not bytes(data[-1024:]).rstrip(b"\0").endswith(b"\xff\xd9"):
        raise ApiError(ErrorCode.INVALID_IMAGE, "the JPEG data is truncated: it does not end with an EOI marker")
    if len(data) < minimum_bytes:
        raise ApiError(
            ErrorCode.INVALID_IMAGE,
            f"the JPEG declares {info.width}x{info.height} pixels but holds only {len(data)} bytes "
            f"(at least {minimum_bytes} are needed): the data is truncated",
        )


def check_byte_size(size: int, limits: ImageLimits) -> None:
    """Refuse an image file of `size` bytes beyond `limits.max_bytes` (ApiError image_too_large, 413)."""
    if size > limits.max_bytes:
        raise ApiError(
            ErrorCode.IMAGE_TOO_LARGE, f"the image has {size} bytes, more than the {limits.max_bytes} allowed", 413
        )


def check_dimensions(width: int, height: int, limits: ImageLimits, what: str = "the image") -> None:
    """Refuse a declared size beyond `limits`: too_many_pixels (413), image_too_small, aspect_ratio_too_large."""
    if width * height > limits.max_pixels:
        raise ApiError(
            ErrorCode.TOO_MANY_PIXELS,
            f"{what} declares {width}x{height} pixels, more than the {limits.max_pixels} allowed",
            413,
        )
    if min(width, height) < limits.min_side:
        raise ApiError(
            ErrorCode.IMAGE_TOO_SMALL, f"{what} is {width}x{height}; both sides must be at least {limits.min_side}"
        )
    if max(width, height) > limits.max_aspect_ratio * min(width, height):
        ratio = limits.max_aspect_ratio
        raise ApiError(
            ErrorCode.ASPECT_RATIO_TOO_LARGE,
            f"{what} is {width}x{height}; its longer side may be at most {ratio} times its shorter",
        )


def _open(data: bytes, limits: ImageLimits) -> tuple[ImageInfo, Image.Image]:
    """Validate the bytes and the header; return the header's facts and the lazily opened image."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ApiError(ErrorCode.INVALID_IMAGE, f"expected image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ApiError(ErrorCode.EMPTY_BODY, "the request holds no image bytes")
    check_byte_size(len(data), limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise ApiError(
            ErrorCode.TOO_MANY_PIXELS, f"{error}; at most {limits.max_pixels} pixels are allowed", 413
        ) from None
    except UnidentifiedImageError:
        raise ApiError(
            ErrorCode.INVALID_IMAGE, f"not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})"
        ) from None
    except (OSError, ValueError, SyntaxError, struct.error) as error:
        raise ApiError(ErrorCode.INVALID_IMAGE, f"the image header cannot be read: {error_text(error)}") from None
    width, height = image.size
    try:
        check_dimensions(width, height, limits)
    except ApiError:
        image.close()
        raise
    if image.format == "PNG":
        try:
            check_png_size(data, width, height)
        except ApiError:
            image.close()
            raise
    # Pillow reads a PNG's EXIF by loading the whole image when the header holds none: not in a header check.
    orientation = 1 if image.format == "PNG" and "exif" not in image.info else _orientation(image)
    return ImageInfo(image.format, image.mode, width, height, orientation), image


def _orientation(image: Image.Image) -> int:
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not refuse an image whose pixels decoded
        return 1
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def _cmyk_jpeg_rgb(data: bytes, image: Image.Image) -> np.ndarray:
    """A CMYK or YCCK JPEG: libjpeg-turbo checks the data strictly (at 1/8 scale, cheaply; its warnings are errors,
    not grey pixels), Pillow converts the colours."""
    simplejpeg.decode_jpeg(data, colorspace="CMYK", strict=True, min_height=1, min_width=1)
    return _pillow_rgb(image)


def _may_have_ended_early(png: Image.Image) -> bool:
    """Whether a loaded PNG's data may have ended before its last rows, which Pillow leaves zero: its last row is
    all zero, or it is interlaced (the last pass fills every other row). Only then is its data measured."""
    width, height = png.size
    return bool(png.info.get("interlace")) or not png.crop((0, height - 1, width, height)).tobytes().strip(b"\0")


def _pillow_rgb(image: Image.Image) -> np.ndarray:
    """Decode the first frame with Pillow and convert it to 8-bit RGB (H, W, 3)."""
    image.seek(0)
    image.load()
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own conversion to "L" clips 16-bit samples at 255 instead of scaling them.
        samples = np.asarray(image).astype(np.uint32).clip(0, 65535)
        gray = ((samples + 128) // 257).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
    return np.array(image if image.mode == "RGB" else image.convert("RGB"))  # convert copies even RGB


def error_text(error: BaseException) -> str:
    """A decoder's error as one short line, for messages."""
    return " ".join(str(error).split())[:200] or type(error).__name__
