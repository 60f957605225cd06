"""Sub-pixel shifts: the invariants of issue 18, and an independent numpy.fft reference of the Fourier shift."""

import numpy as np
import pytest
import torch

from antialiased.errors import ApiError
from antialiased.shifts import ShiftRequest
from antialiased.subpixel import bilinear_shift, fourier_shifts, subpixel_shifts
from antialiased.transforms import shifted_views


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(3, 24, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 255


def numpy_fourier_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Written apart from the library: a loop over frequencies of numpy.fft's 2D transform."""
    h, w = image.shape[-2:]
    out = np.fft.fft2(image)
    for u in range(h):
        for v in range(w):
            fu = u if u < h / 2 else u - h
            fv = v if v < w / 2 else v - w
            out[..., u, v] *= np.exp(-2j * np.pi * (fu * dy / h + fv * dx / w))
    return np.fft.ifft2(out).real


@pytest.mark.parametrize("method", ["fourier", "bilinear"])
def test_an_integer_shift_is_the_circular_shift_and_zero_the_identity(image: torch.Tensor, method: str) -> None:
    offsets = [(0, 0), (3, -5), (-24, 30), (1.0, 2.0)]
    shifted = subpixel_shifts(image, offsets, method)
    for view, (dy, dx) in zip(shifted, offsets, strict=True):
        expected = torch.roll(image, (int(dy), int(dx)), dims=(1, 2))
        torch.testing.assert_close(view, expected, rtol=0, atol=1e-9)


def test_the_fourier_shift_of_a_band_limited_pattern_is_the_shifted_pattern() -> None:
    h, w = 32, 40
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")

    def pattern(dy: float, dx: float) -> np.ndarray:
        return np.cos(2 * np.pi * (3 * (y - dy) / h + 2 * (x - dx) / w)) + np.sin(2 * np.pi * 5 * (x - dx) / w)

    image = torch.from_numpy(pattern(0, 0)).unsqueeze(0)
    for dy, dx in [(0.25, 0.5), (-1.75, 0.3), (0.5, -0.5)]:
        shifted = fourier_shifts(image, [(dy, dx)])[0, 0].numpy()
        np.testing.assert_allclose(shifted, pattern(dy, dx), atol=1e-9)


def test_the_fourier_shift_agrees_with_a_numpy_fft_reference(image: torch.Tensor) -> None:
    offsets = [(0.25, 0.75), (-0.5, 1.5), (2.3, -0.1)]
    shifted = fourier_shifts(image, offsets)
    for view, (dy, dx) in zip(shifted, offsets, strict=True):
        np.testing.assert_allclose(view.numpy(), numpy_fourier_shift(image.numpy(), dy, dx), atol=1e-8)


def test_a_bilinear_half_pixel_shift_averages_neighbours(image: torch.Tensor) -> None:
    shifted = bilinear_shift(image, 0.5, 0)
    torch.testing.assert_close(shifted, (image + torch.roll(image, 1, dims=1)) / 2)


@pytest.mark.parametrize("mode", ["crop", "circular"])
@pytest.mark.parametrize("method", ["fourier", "bilinear"])
def test_views_at_integer_offsets_equal_the_integer_views(mode: str, method: str) -> None:
    image = torch.randint(0, 256, (3, 70, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    geometry = {"mode": mode, "crop_size": 48, "base_size": 56 if mode == "crop" else 48, "resize_size": 60}
    offsets = ((0, 0), (3, 8), (8, 1)) if mode == "crop" else ((0, 0), (-3, 8), (8, -1))
    integer = shifted_views(image, ShiftRequest(offsets=offsets, **geometry))
    subpixel = shifted_views(image, ShiftRequest(offsets=offsets, method=method, **geometry))
    torch.testing.assert_close(subpixel, integer, rtol=0, atol=1e-4)


def test_a_crop_view_at_a_fractional_offset_lies_between_its_neighbours() -> None:
    image = torch.randint(0, 256, (3, 70, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    geometry = {"crop_size": 48, "base_size": 56, "resize_size": 60, "method": "bilinear"}
    views = shifted_views(image, ShiftRequest(offsets=((2, 3), (2.5, 3), (3, 3)), **geometry))
    torch.testing.assert_close(views[1], (views[0] + views[2]) / 2, rtol=0, atol=1e-5)


def test_a_sub_pixel_shift_request_round_trips_and_fractions_need_a_method() -> None:
    request = ShiftRequest(
        offsets=((0, 0), (0.25, 0.25)), mode="circular", crop_size=64, base_size=64, method="fourier"
    )
    assert ShiftRequest.from_json(request.to_json()) == request
    data = request.to_json() | {"method": None}
    del data["method"]
    with pytest.raises(ApiError, match="integer pairs"):
        ShiftRequest.from_json(data)
    with pytest.raises(ApiError, match="unknown sub-pixel method"):
        ShiftRequest.from_json(request.to_json() | {"method": "lanczos"})
    with pytest.raises(ApiError, match="finite"):
        ShiftRequest.from_json(request.to_json() | {"offsets": [[0, float("nan")]]})
