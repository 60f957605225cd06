"""BlurPool: low-pass filtering before subsampling (Zhang, ICML 2019).

Numerically the same as the paper's `BlurPool`/`Downsample`: the binomial filter of
`filt_size` taps, normalised to sum 1, stored as the persistent buffer `filt` of shape
(C, 1, k, k) (2D) or (C, 1, k) (1D) so that the published checkpoints load strictly.
Padding is (floor((k-1)/2), ceil((k-1)/2)) + `pad_off` on each side of each axis.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Binomial taps by filter size; row k-1 of Pascal's triangle.
FILTER_TAPS: dict[int, tuple[float, ...]] = {
    k: tuple(float(math.comb(k - 1, i)) for i in range(k)) for k in range(1, 8)
}

# Accepted names of each padding mode, as in the reference package, mapped to F.pad's mode.
PAD_MODES: dict[str, str] = {
    "reflect": "reflect",
    "refl": "reflect",
    "replicate": "replicate",
    "repl": "replicate",
    "zero": "constant",
}


def blur_taps(filt_size: int) -> torch.Tensor:
    """The normalised 1D binomial filter of `filt_size` taps."""
    if filt_size not in FILTER_TAPS:
        raise ValueError(f"filt_size must be one of {sorted(FILTER_TAPS)}, got {filt_size!r}")
    taps = torch.tensor(FILTER_TAPS[filt_size], dtype=torch.float64)
    return taps / taps.sum()


def _pad_mode(pad_type: str) -> str:
    if pad_type not in PAD_MODES:
        raise ValueError(f"pad_type must be one of {sorted(PAD_MODES)}, got {pad_type!r}")
    return PAD_MODES[pad_type]


def _pad_sizes(filt_size: int, pad_off: int) -> tuple[int, int]:
    return (filt_size - 1) // 2 + pad_off, math.ceil((filt_size - 1) / 2) + pad_off


class _BlurPoolNd(nn.Module):
    """Shared logic of the 1D and 2D layers; `ndim` spatial dimensions."""

    ndim: int

    def __init__(
        self, channels: int, pad_type: str = "reflect", filt_size: int = 4, stride: int = 2, pad_off: int = 0
    ) -> None:
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride!r}")
        self.channels = channels
        self.filt_size = filt_size
        self.stride = stride
        self.pad_off = pad_off
        self.pad_type = pad_type
        self.pad_mode = _pad_mode(pad_type)
        self.pad_sizes = _pad_sizes(filt_size, pad_off) * self.ndim  # F.pad order: last axis first
        taps = blur_taps(filt_size)
        filt = taps if self.ndim == 1 else torch.outer(taps, taps)
        self.register_buffer("filt", filt.float().expand(channels, 1, *filt.shape).contiguous())

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, filt_size={self.filt_size}, stride={self.stride}, "
            f"pad_type={self.pad_type!r}, pad_off={self.pad_off}"
        )

    def _check_size(self, x: torch.Tensor) -> None:
        if self.pad_mode != "reflect":
            return
        needed = max(self.pad_sizes)
        spatial = tuple(x.shape[-self.ndim :])
        if min(spatial) <= needed:
            raise ValueError(
                f"feature map of spatial size {spatial} is too small for reflect padding of {needed}: "
                f"each spatial dimension must be larger than {needed} (use a larger input or pad_type='zero')"
            )

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if not any(self.pad_sizes):
            return x
        self._check_size(x)
        return F.pad(x, self.pad_sizes, mode=self.pad_mode)


class BlurPool(_BlurPoolNd):
    """2D anti-aliased downsampling: pad, blur with the binomial filter, subsample by `stride`."""

    ndim = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.filt_size == 1:
            return self._pad(x)[:, :, :: self.stride, :: self.stride]
        return F.conv2d(self._pad(x), self.filt, stride=self.stride, groups=x.shape[1])


class BlurPool1d(_BlurPoolNd):
    """1D anti-aliased downsampling over the last axis of (N, C, L) inputs."""

    ndim = 1

    def __init__(
        self, channels: int, pad_type: str = "reflect", filt_size: int = 3, stride: int = 2, pad_off: int = 0
    ) -> None:
        super().__init__(channels, pad_type=pad_type, filt_size=filt_size, stride=stride, pad_off=pad_off)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.filt_size == 1:
            return self._pad(x)[:, :, :: self.stride]
        return F.conv1d(self._pad(x), self.filt, stride=self.stride, groups=x.shape[1])
