"""antialiased.imagefile and antialiased.images: every accepted format and colour mode becomes the right 8-bit RGB;
bad, truncated and corrupt files are refused, never filled with black or grey."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from antialiased.errors import ApiError
from antialiased.imagefile import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MIN_IMAGE_SIDE,
    ImageLimits,
    check_jpeg_structure,
    decode_rgb,
    inspect_image,
)
from antialiased.images import decode_image, decode_images
from tests.support.serving import (
    corrupt_zlib_png,
    encode,
    jpeg_declaring,
    photo,
    png_16bit,
    png_declaring,
    png_ending_early,
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


def test_batch_decoding_on_the_cpu_gives_each_image_or_its_error():
    good, bad = encode(PIXELS), encode(PIXELS)[:2000]
    first, second, third = decode_images([good, bad, encode(PIXELS, "PNG")], device="cpu")
    assert torch.equal(first, decode_image(good)) and first.device.type == "cpu"
    assert isinstance(second, ApiError) and second.code == "invalid_image"
    assert (_hwc(third) == PIXELS).all()


def test_decoded_pixels_are_writable_arrays():
    """torch.from_numpy would warn about (and could not safely share) read-only memory."""
    for fmt in ("JPEG", "PNG"):
        assert decode_rgb(encode(PIXELS, fmt)).flags.writeable


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
        (png_declaring(200_000, 32), "aspect_ratio_too_large", 400),
        (encode(PIXELS, "ICO"), "invalid_image", 400),
    ],
    ids=[
        "empty",
        "truncated_jpeg",
        "truncated_png",
        "random",
        "text",
        "1x1",
        "thin",
        "bomb",
        "over_limit",
        "sliver",
        "ico",
    ],
)
def test_bad_files_are_refused_with_a_code(data, code, status):
    with pytest.raises(ApiError) as refused:
        decode_image(data)
    assert (refused.value.code, refused.value.status) == (code, status)
    assert refused.value.message


def test_oversized_file_is_refused_before_reading_it():
    with pytest.raises(ApiError) as refused:
        decode_image(bytes(MAX_IMAGE_BYTES + 1))
    assert (refused.value.code, refused.value.status) == ("image_too_large", 413)


def test_inspect_reads_the_header_only():
    info = inspect_image(png_ending_early(PIXELS, 0.5))  # half the rows' data: decoding would fail
    assert (info.format, info.width, info.height) == ("PNG", PIXELS.shape[1], PIXELS.shape[0])


def test_a_png_too_small_for_its_declared_rows_is_refused_from_its_header():
    """Deflate compresses at most 1032:1: 90-odd bytes cannot hold 49 megapixels (each such file cost a worker
    a 150 MB allocation and a black image), so the header check refuses it without decoding anything."""
    data = png_declaring(7_000, 7_000)
    assert len(data) < 100 and MAX_IMAGE_PIXELS >= 7_000 * 7_000
    for check in (inspect_image, decode_image):
        with pytest.raises(ApiError, match="truncated") as refused:
            check(data)
        assert (refused.value.code, refused.value.status) == ("invalid_image", 400)


@pytest.mark.parametrize("interlaced", [False, True], ids=["sequential", "interlaced"])
def test_complete_pngs_whose_last_row_is_black_decode_exactly(interlaced):
    """The data of a PNG whose last row decodes all zero (or an interlaced one) is measured, and passes when whole."""
    pixels = PIXELS.copy()
    pixels[-3:] = 0
    assert (decode_rgb(png_ending_early(pixels, 1.0, interlaced=interlaced)) == pixels).all()


def test_limits_are_parameters():
    data = encode(PIXELS, "PNG")
    with pytest.raises(ApiError, match="pixels"):
        decode_image(data, ImageLimits(max_pixels=PIXELS.shape[0] * PIXELS.shape[1] - 1))
    with pytest.raises(ApiError, match="bytes"):
        decode_image(data, ImageLimits(max_bytes=len(data) - 1))
    with pytest.raises(ApiError, match="at least"):
        decode_image(data, ImageLimits(min_side=PIXELS.shape[0] + 1))


def _truncated(fmt: str, keep: float = 0.6, **options) -> bytes:
    data = encode(PIXELS, fmt, **options)
    return data[: int(len(data) * keep)]


# Corrupt or truncated pixel data behind a valid header: each must be refused, not decoded to black or grey.
CORRUPT = {
    "png_broken_zlib_stream": lambda: corrupt_zlib_png(PIXELS),
    "png_truncated": lambda: _truncated("PNG"),
    # 100 of 300 rows, then a clean end of the zlib stream: Pillow decoded it with black rows
    "png_data_ends_early": lambda: png_ending_early(PIXELS, 100 / PIXELS.shape[0]),
    "interlaced_png_data_ends_early": lambda: png_ending_early(PIXELS, 0.9, interlaced=True),
    "jpeg_truncated": lambda: _truncated("JPEG"),
    "progressive_jpeg_truncated": lambda: _truncated("JPEG", progressive=True),
    "jpeg_header_promises_7000x7000": lambda: jpeg_declaring(encode(PIXELS[:64, :64]), 7000, 7000),
    "jpeg_header_promises_more_rows": lambda: jpeg_declaring(encode(PIXELS), 451, 600),
    "jpeg_corrupt_scan": lambda: _corrupt_scan(encode(PIXELS)),
    "grayscale_jpeg_truncated": lambda: encode(PIXELS[..., 0], "JPEG")[:3000],
    "cmyk_jpeg_truncated": lambda: encode(Image.fromarray(PIXELS).convert("CMYK"), "JPEG")[:5000],
    "webp_truncated": lambda: _truncated("WEBP", keep=0.5),
    "lossless_webp_truncated": lambda: _truncated("WEBP", keep=0.5, lossless=True),
    "gif_truncated": lambda: _truncated("GIF"),
    "bmp_truncated": lambda: _truncated("BMP"),
    "tiff_truncated": lambda: _truncated("TIFF"),
}


def _corrupt_scan(jpeg: bytes) -> bytes:
    """Overwrite part of the entropy-coded data with marker-like garbage (the header stays valid)."""
    start = jpeg.index(b"\xff\xda") + 200
    return jpeg[:start] + b"\xff\xd0\x00\xff" * 64 + jpeg[start + 256 :]


@pytest.mark.parametrize("name", CORRUPT)
def test_corrupt_or_truncated_data_is_refused_not_filled(name):
    data = CORRUPT[name]()
    if "webp" not in name:  # Pillow opens WebP whole; for the others the header alone is fine
        inspect_image(data)
    with pytest.raises(ApiError) as refused:
        decode_image(data)
    assert (refused.value.code, refused.value.status) == ("invalid_image", 400)
    assert refused.value.message


def test_a_header_check_never_decodes_the_pixels():
    """A PNG's EXIF may follow its pixels; inspecting it must not load (and fail on) corrupt pixel data."""
    assert inspect_image(corrupt_zlib_png(PIXELS)).orientation == 1


def test_gpu_path_structure_check_refuses_jpegs_too_short_for_their_size():
    """nvJPEG fills missing data silently, so JPEGs bound for the GPU are checked first: EOI present, enough data."""
    good = encode(PIXELS)
    check_jpeg_structure(good, inspect_image(good))
    for data in (good[:-2], jpeg_declaring(encode(PIXELS[:64, :64]), 7000, 7000)):
        with pytest.raises(ApiError, match="truncated"):
            check_jpeg_structure(data, inspect_image(data))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_header_read_already_gives_the_same_pixels(fmt):
    """Callers that checked the header (the handler, the probe service) pass it on instead of it being read again."""
    data = with_exif_orientation(stored_for_orientation(PIXELS, 6), 6, fmt)
    info = inspect_image(data)
    assert np.array_equal(decode_rgb(data, info=info), decode_rgb(data))
    (batch,) = decode_images([data], infos=[info])
    assert torch.equal(batch, decode_image(data))
