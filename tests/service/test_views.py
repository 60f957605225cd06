"""The views the service cuts itself (torch-free) are the library's `shifted_views`, to the last bit, and the FP32
tensor an `oip` target sends is the library's normalised batch."""

from __future__ import annotations

import numpy as np
import pytest

from antialiased.imagefile import ImageLimits
from antialiased.images import decode_image
from antialiased.shifts import ShiftRequest
from antialiased.transforms import shifted_views
from service.target_settings import OipConfig
from service.targets.oip import OipTarget
from service.views import image_views
from tests.support.serving import encode, photo

REQUESTS = {
    "paper-crops": ShiftRequest(offsets=((0, 0), (3, 7), (32, 32), (31, 0)), mode="crop"),
    "circular": ShiftRequest(offsets=((-5, 3), (32, -32), (0, 0)), mode="circular"),
    "small-geometry": ShiftRequest(offsets=((0, 0), (1, 19)), crop_size=100, base_size=120, resize_size=131),
}
IMAGES = {
    "landscape-jpeg": lambda: encode(photo("chelsea")),
    "portrait-odd-png": lambda: encode(photo("rocket")[:417, :301], "PNG"),
    "square-gray-png": lambda: encode(photo("coffee")[:300, :300, 0], "PNG"),
}


@pytest.mark.parametrize("request_name", list(REQUESTS))
@pytest.mark.parametrize("image_name", list(IMAGES))
def test_service_views_are_the_library_views(image_name: str, request_name: str) -> None:
    image, request = IMAGES[image_name](), REQUESTS[request_name]
    views = image_views(image, request, ImageLimits())
    assert views.dtype == np.uint8 and views.shape == (len(request.offsets), request.crop_size, request.crop_size, 3)
    target = OipTarget(OipConfig(name="t", kind="oip", url="http://127.0.0.1:9", layout="NCHW"))
    sent = target.model_input(views)
    expected = shifted_views(decode_image(image), request).numpy()
    assert sent.dtype == np.float32 and np.array_equal(sent, expected)


@pytest.mark.parametrize("method", ["fourier", "bilinear"])
@pytest.mark.parametrize("mode", ["crop", "circular"])
def test_sub_pixel_views_the_service_cuts_are_the_library_views_rounded(method: str, mode: str) -> None:
    """The service's numpy shifts (torch-free) and the library's tensor shifts agree to the rounding to uint8."""
    import torch

    from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD

    image = encode(photo("chelsea"))
    base = 64 + 4 if mode == "crop" else 64
    offsets = ((0.5, 1.25), (2, 3.75), (0, 0)) if mode == "crop" else ((-0.5, 1.25), (2, -3.75), (0, 0))
    request = ShiftRequest(offsets=offsets, mode=mode, crop_size=64, base_size=base, resize_size=80, method=method)
    views = image_views(image, request, ImageLimits()).astype(np.float64)
    normalised = shifted_views(decode_image(image), request, dtype=torch.float64).numpy().transpose(0, 2, 3, 1)
    library = (normalised * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)) * 255
    assert np.abs(views - np.clip(library, 0, 255)).max() <= 0.5 + 1e-6
