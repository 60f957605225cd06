"""antialiased.images: every accepted format and colour mode becomes the right 8-bit RGB; bad files are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from antialiased.images import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MIN_IMAGE_SIDE,
    ImageError,
    decode_image,
    inspect_image,
)
from tests.serving.helpers import (
    encode,
    photo,
    png_16bit,
    png_declaring,
    png_with_late_exif,
    stored_for_orientation,
    with_exif_orientation,
)

PIXELS = photo("chelsea")  # 300 x 451, RGB


def _hwc(image: torch.Tensor) -> np.ndarray:
    assert image.dtype == torch.uint8 and image.shape[0] == 3
    return image.permute(1, 2, 0).numpy().astype(int)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_lossless_rgb_formats_decode_exactly(fmt):
    assert (_hwc(decode_image(encode(PIXELS, fmt))) == PIXELS).all()


def test_lossless_webp_decodes_exactly():
    assert (_hwc(decode_image(encode(PIXELS, "WEBP", lossless=True))) == PIXELS).all()


def test_jpeg_decodes_like_pillow():
    data = encode(PIXELS, "JPEG", quality=90)
    assert (_hwc(decode_image(data)) == np.asarray(Image.open(io.BytesIO(data)))).all()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_upright_image(fmt, orientation):
    data = with_exif_orientation(stored_for_orientation(PIXELS, orientation), orientation, fmt)
    decoded = _hwc(decode_image(data))
    assert decoded.shape == PIXELS.shape
    assert np.abs(decoded - PIXELS).mean() < (3 if fmt == "JPEG" else 1e-9)


def test_exif_after_the_pixels_of_a_png_is_applied():
    data = png_with_late_exif(stored_for_orientation(PIXELS, 8), 8)
    assert (_hwc(decode_image(data)) == PIXELS).all()


def test_grayscale_becomes_three_equal_channels():
    gray = PIXELS.mean(axis=2).astype(np.uint8)
    decoded = _hwc(decode_image(encode(gray, "PNG")))
    assert all((decoded[..., channel] == gray).all() for channel in range(3))


def test_palette_image_becomes_its_palette_colours():
    palette_image = Image.fromarray(PIXELS).quantize(64)
    expected = np.array(palette_image.getpalette()).reshape(-1, 3)[np.asarray(palette_image)]
    assert (_hwc(decode_image(encode(palette_image, "PNG"))) == expected).all()


def test_rgba_is_composited_on_white():
    alpha = np.tile(np.linspace(0, 255, PIXELS.shape[1]).astype(np.uint8), (PIXELS.shape[0], 1))
    rgba = np.dstack([PIXELS, alpha])
    weight = alpha[..., None] / 255.0
    expected = PIXELS * weight + 255 * (1 - weight)
    decoded = _hwc(decode_image(encode(rgba, "PNG")))
    assert np.abs(decoded - expected).max() <= 1
    assert (decoded[:, 0] == 255).all()  # fully transparent column: white


def test_transparent_palette_gif_is_composited_on_white():
    palette_image = Image.fromarray(PIXELS).quantize(16)
    transparent_index = int(np.asarray(palette_image)[0, 0])
    decoded = _hwc(decode_image(encode(palette_image, "GIF", transparency=transparent_index)))
    assert (decoded[np.asarray(palette_image) == transparent_index] == 255).all()


def test_animated_gif_uses_the_first_frame():
    first, second = Image.fromarray(PIXELS).quantize(256), Image.fromarray(255 - PIXELS).quantize(256)
    data = encode(first, "GIF", save_all=True, append_images=[second])
    expected = np.array(first.getpalette()).reshape(-1, 3)[np.asarray(first)]
    assert np.abs(_hwc(decode_image(data)) - expected).mean() < 1


def test_cmyk_jpeg_becomes_rgb():
    decoded = _hwc(decode_image(encode(Image.fromarray(PIXELS).convert("CMYK"), "JPEG", quality=95)))
    assert np.abs(decoded - PIXELS).mean() < 3


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    samples = (PIXELS[..., 0].astype(np.uint32) * 257).astype(np.uint16)  # 8-bit values spread over 16 bits
    decoded = _hwc(decode_image(png_16bit(samples)))
    assert (decoded[..., 0] == PIXELS[..., 0]).all() and (decoded[..., 2] == PIXELS[..., 0]).all()


def test_sixteen_bit_rgb_becomes_eight_bit_rgb():
    decoded = _hwc(decode_image(png_16bit(PIXELS.astype(np.uint16) * 257)))
    assert np.abs(decoded - PIXELS).max() <= 1


def test_decode_on_a_device_returns_a_tensor_there():
    assert decode_image(encode(PIXELS), device="cpu").device.type == "cpu"


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (b"", "empty_body", 400),
        (encode(PIXELS)[:2000], "invalid_image", 400),
        (encode(PIXELS, "PNG")[:3000], "invalid_image", 400),
        (np.random.default_rng(0).bytes(5000), "invalid_image", 400),
        (b"a photo of a cat", "invalid_image", 400),
        (encode(np.zeros((1, 1, 3), np.uint8), "PNG"), "image_too_small", 400),
        (encode(np.zeros((MIN_IMAGE_SIDE - 1, 500, 3), np.uint8), "PNG"), "image_too_small", 400),
        (png_declaring(50_000, 50_000), "too_many_pixels", 413),
        (png_declaring(10_000, 6_000), "too_many_pixels", 413),
        (encode(PIXELS, "ICO"), "invalid_image", 400),
    ],
    ids=["empty", "truncated_jpeg", "truncated_png", "random", "text", "1x1", "thin", "bomb", "over_limit", "ico"],
)
def test_bad_files_are_refused_with_a_code(data, code, status):
    with pytest.raises(ImageError) as refused:
        decode_image(data)
    assert (refused.value.code, refused.value.status) == (code, status)
    assert refused.value.message


def test_oversized_file_is_refused_before_reading_it():
    with pytest.raises(ImageError) as refused:
        decode_image(bytes(MAX_IMAGE_BYTES + 1))
    assert (refused.value.code, refused.value.status) == ("image_too_large", 413)


def test_inspect_reads_the_header_only():
    info = inspect_image(png_declaring(5_000, 4_000))  # 20 MP declared, 1 kB of data: decoding would fail
    assert (info.format, info.width, info.height) == ("PNG", 5_000, 4_000)
    assert info.pixels <= MAX_IMAGE_PIXELS


def test_limits_are_parameters():
    data = encode(PIXELS, "PNG")
    with pytest.raises(ImageError, match="pixels"):
        decode_image(data, max_pixels=PIXELS.shape[0] * PIXELS.shape[1] - 1)
    with pytest.raises(ImageError, match="bytes"):
        decode_image(data, max_bytes=len(data) - 1)
    with pytest.raises(ImageError, match="at least"):
        decode_image(data, min_side=PIXELS.shape[0] + 1)
