"""Pieces shared by the antialiased model families built from torchvision's models.

Each family antialiases torchvision's model in place (so torchvision's own weights load before the
change, see `antialiased.convert`); `antialiased.models.zoo` pairs each architecture with its family's function.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from antialiased.blurpool import BlurPool

DEFAULT_FILTER_SIZE = 4  # the paper's choice: blur taps [1, 3, 3, 1]


def dense_max_pool(pool: nn.MaxPool2d) -> nn.MaxPool2d:
    """`pool` evaluated densely: the same kernel, padding and dilation at stride 1."""
    return nn.MaxPool2d(
        pool.kernel_size, stride=1, padding=pool.padding, dilation=pool.dilation, ceil_mode=pool.ceil_mode
    )


def blurred_max_pool(pool: nn.MaxPool2d, channels: int, filter_size: int) -> tuple[nn.MaxPool2d, BlurPool]:
    """The paper's MaxBlurPool for `pool`: the same max pool evaluated densely (stride 1), then a BlurPool
    that subsamples by the pool's stride."""
    return dense_max_pool(pool), BlurPool(channels, filt_size=filter_size, stride=pool.stride)


def antialias_max_pools(layers: Iterable[nn.Module], filter_size: int) -> list[nn.Module]:
    """`layers` with every strided max pool replaced by its blurred version (channels: those of the last conv)."""
    result: list[nn.Module] = []
    channels = None
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            channels = layer.out_channels
        if isinstance(layer, nn.MaxPool2d) and layer.stride != 1:
            if channels is None:
                raise ValueError("a strided max pool before any convolution: its channel count is unknown")
            result.extend(blurred_max_pool(layer, channels, filter_size))
        else:
            result.append(layer)
    return result
