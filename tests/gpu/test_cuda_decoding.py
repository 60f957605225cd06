"""JPEG decoding on the GPU (nvJPEG through torchvision) against the CPU (libjpeg-turbo): bounded pixel differences.

The two decoders implement the inverse DCT and the chroma upsampling of subsampled JPEGs differently, so
pixels differ by a few levels. The bounds: mean absolute difference below 2 levels (torchvision's own
test of its GPU decoder), 99.9% of the samples within MAX_P999 levels.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from antialiased.images import decode_image
from tests.gpu.cuda import cuda_device
from tests.serving.helpers import PHOTOS, encode, photo, stored_for_orientation, with_exif_orientation

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
    on_gpu = decode_image(data, device=device)
    assert on_gpu.device == device and on_gpu.dtype == torch.uint8
    assert on_gpu.shape == on_cpu.shape
    difference = (on_gpu.cpu().float() - on_cpu).abs()
    mean, p999, largest = difference.mean().item(), difference.quantile(0.999).item(), difference.max().item()
    record_property("mean_abs_difference", round(mean, 3))
    record_property("p99.9_abs_difference", p999)
    record_property("max_abs_difference", largest)
    assert mean < MAX_MEAN and p999 <= MAX_P999, f"mean {mean:.3f}, 99.9th percentile {p999}, max {largest}"


def test_a_cmyk_jpeg_is_decoded_on_the_cpu_and_moved_unchanged():
    data = encode(Image.fromarray(photo("rocket")).convert("CMYK"), quality=90)
    on_cpu = decode_image(data)

    device = cuda_device()
    on_gpu = decode_image(data, device=device)
    assert on_gpu.device == device
    assert torch.equal(on_gpu.cpu(), on_cpu)
