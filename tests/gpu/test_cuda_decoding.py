"""JPEG decoding on the GPU (nvJPEG through torchvision, all JPEGs of a batch in one call) against the CPU
(libjpeg-turbo): bounded pixel differences; other images stay on the CPU; corrupt JPEGs are refused.

The two decoders implement the inverse DCT and the chroma upsampling of subsampled JPEGs differently, so
pixels differ by a few levels. The bounds: mean absolute difference below 2 levels (torchvision's own
test of its GPU decoder), 99.9% of the samples within MAX_P999 levels.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from antialiased.errors import ApiError
from antialiased.images import decode_image, decode_images
from tests.gpu.cuda import cuda_device
from tests.support.serving import (
    PHOTOS,
    corrupt_zlib_png,
    encode,
    jpeg_declaring,
    photo,
    stored_for_orientation,
    with_exif_orientation,
)

pytestmark = pytest.mark.gpu

MAX_MEAN = 2.0
MAX_P999 = 16.0

# name -> JPEG bytes that the GPU decodes: 4:2:0 photos (Pillow's default), 4:4:4, grayscale, EXIF-rotated.
GPU_DECODED = {
    **{f"{name} 4:2:0": lambda name=name: encode(photo(name), quality=90) for name in PHOTOS},
    "astronaut 4:4:4": lambda: encode(photo("astronaut"), quality=90, subsampling=0),
    "coffee grayscale": lambda: encode(Image.fromarray(photo("coffee")).convert("L"), quality=90),
    "chelsea EXIF orientation 6": lambda: with_exif_orientation(stored_for_orientation(photo("chelsea"), 6), 6),
}


@pytest.mark.parametrize("name", GPU_DECODED)
def test_gpu_decoding_is_within_the_bounds_of_cpu_decoding(name, record_property):
    data = GPU_DECODED[name]()
    on_cpu = decode_image(data).float()

    device = cuda_device()
    (on_gpu,) = decode_images([data], device=device)
    assert on_gpu.device == device and on_gpu.dtype == torch.uint8
    assert on_gpu.shape == on_cpu.shape
    difference = (on_gpu.cpu().float() - on_cpu).abs()
    mean, p999, largest = difference.mean().item(), difference.quantile(0.999).item(), difference.max().item()
    record_property("mean_abs_difference", round(mean, 3))
    record_property("p99.9_abs_difference", p999)
    record_property("max_abs_difference", largest)
    assert mean < MAX_MEAN and p999 <= MAX_P999, f"mean {mean:.3f}, 99.9th percentile {p999}, max {largest}"


def test_a_batch_is_decoded_together_and_only_rgb_jpegs_go_to_the_gpu():
    """One call for the whole batch; a CMYK JPEG and a PNG are decoded on the CPU (where the exact resize runs),
    and a broken input refuses only itself."""
    jpegs = [GPU_DECODED[name]() for name in GPU_DECODED]
    cmyk = encode(Image.fromarray(photo("rocket")).convert("CMYK"), quality=90)
    png = encode(photo("coffee"), "PNG")
    broken = [encode(photo("chelsea"))[:3000], jpeg_declaring(encode(photo("chelsea")[:64, :64]), 7000, 7000)]
    inputs = [*jpegs, cmyk, png, *broken, corrupt_zlib_png(photo("chelsea"))]

    device = cuda_device()
    results = decode_images(inputs, device=device)
    assert all(isinstance(r, torch.Tensor) and r.device == device for r in results[: len(jpegs)])
    cmyk_result, png_result = results[len(jpegs)], results[len(jpegs) + 1]
    assert cmyk_result.device.type == "cpu" and torch.equal(cmyk_result, decode_image(cmyk))
    assert png_result.device.type == "cpu" and torch.equal(png_result, decode_image(png))
    refused = results[len(jpegs) + 2 :]
    assert all(isinstance(r, ApiError) and r.code == "invalid_image" for r in refused), refused
