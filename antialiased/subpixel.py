"""Circular sub-pixel shifts of float images (..., H, W) on tensors, by the two methods of `antialiased.shifts`.

- ``fourier``: the ideal band-limited shift (Michaeli, Michaeli and Soudry, CVPR 2023): the image's 2D DFT times
  the phase ramp exp(-2πi (ky·dy/H + kx·dx/W)) over the signed integer frequencies, back by the inverse DFT, real
  part (at an even size's Nyquist frequency the ramp is not Hermitian for a fractional shift: the real part keeps
  its cosine). The image is taken as periodic: its circular padding.
- ``bilinear``: y[i, j] = x(i - dy, j - dx), interpolated bilinearly between the four nearest pixels, with
  wrap-around.

A positive dy moves the content down, as ``torch.roll``; an integer shift is ``torch.roll`` to float precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

SubpixelOffset = tuple[float, float]


def fourier_shifts(
    image: torch.Tensor, offsets: Sequence[SubpixelOffset], window: int | None = None, chunk: int = 64
) -> torch.Tensor:
    """(C, H, W) float -> (len(offsets), C, H, W): `image` shifted by each (dy, dx), by phase ramps; with `window`,
    only each shifted image's top-left `window` x `window`.

    The spectrum is computed once; the inverse transforms run `chunk` offsets at a time.
    """
    height, width = image.shape[-2:]
    real = torch.float64 if image.dtype == torch.float64 else torch.float32
    spectrum = torch.fft.fft2(image.to(real))
    ky = torch.fft.fftfreq(height, d=1.0 / height, device=image.device, dtype=real).view(-1, 1)
    kx = torch.fft.fftfreq(width, d=1.0 / width, device=image.device, dtype=real).view(1, -1)
    parts = []
    for start in range(0, len(offsets), chunk):
        shifts = torch.tensor(offsets[start : start + chunk], dtype=real, device=image.device)
        phase = ky * (shifts[:, 0, None, None] / height) + kx * (shifts[:, 1, None, None] / width)
        # The phase in turns, reduced to [-0.5, 0.5): the ramp of an integer shift is then exact at every frequency.
        phase = phase - torch.round(phase)
        ramp = torch.polar(torch.ones_like(phase), -2 * math.pi * phase)
        parts.append(torch.fft.ifft2(spectrum.unsqueeze(0) * ramp.unsqueeze(1)).real[..., :window, :window])
    return torch.cat(parts).to(image.dtype)


def bilinear_shift(image: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """(..., H, W) float -> the same shifted by (dy, dx) with bilinear interpolation and wrap-around."""
    iy, ix = math.floor(dy), math.floor(dx)
    fy, fx = dy - iy, dx - ix
    rows = (1 - fy) * torch.roll(image, iy, dims=-2) + (fy * torch.roll(image, iy + 1, dims=-2) if fy else 0)
    shifted = (1 - fx) * torch.roll(rows, ix, dims=-1)
    return shifted + fx * torch.roll(rows, ix + 1, dims=-1) if fx else shifted


def subpixel_shifts(
    image: torch.Tensor, offsets: Sequence[SubpixelOffset], method: str, window: int | None = None
) -> torch.Tensor:
    """(C, H, W) float -> (len(offsets), C, H, W) shifted circularly by `method` (fourier or bilinear); with
    `window`, the top-left `window` x `window` of each."""
    if method == "fourier":
        return fourier_shifts(image, offsets, window)
    if method == "bilinear":
        return torch.stack([bilinear_shift(image, dy, dx)[..., :window, :window] for dy, dx in offsets])
    raise ValueError(f"unknown sub-pixel method {method!r}")
