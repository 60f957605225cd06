"""Pieces shared by the antialiased model families built from torchvision's models.

Each family antialiases torchvision's model in place (so torchvision's own weights load before the
change, see `antialiased.convert`), and gets its named builders from `antialiased_builder`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from torch import nn

from antialiased.blurpool import BlurPool
from antialiased.models.resnet import DEFAULT_FILTER_SIZE


def blurred_max_pool(pool: nn.MaxPool2d, channels: int, filter_size: int) -> tuple[nn.MaxPool2d, BlurPool]:
    """The paper's MaxBlurPool for `pool`: the same max pool evaluated densely (stride 1), then a BlurPool
    that subsamples by the pool's stride."""
    dense = nn.MaxPool2d(
        pool.kernel_size, stride=1, padding=pool.padding, dilation=pool.dilation, ceil_mode=pool.ceil_mode
    )
    return dense, BlurPool(channels, filt_size=filter_size, stride=pool.stride)


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


def split_antialias_options(
    antialias: Callable[..., nn.Module], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split builder keyword arguments into those `antialias` declares (such as `pool_only`) and torchvision's."""
    options = set(inspect.signature(antialias).parameters) - {"model", "filter_size"}
    ours = {key: value for key, value in kwargs.items() if key in options}
    return ours, {key: value for key, value in kwargs.items() if key not in options}


def antialiased_builder(
    name: str, baseline: Callable[..., nn.Module], antialias: Callable[..., nn.Module]
) -> Callable[..., nn.Module]:
    """A builder `name(filter_size=4, **kwargs)` of torchvision's `baseline`, antialiased in place by `antialias`.

    Keyword arguments that `antialias` declares (such as `pool_only`) go to it, the rest to torchvision.
    """

    def build(filter_size: int = DEFAULT_FILTER_SIZE, **kwargs) -> nn.Module:
        options, baseline_kwargs = split_antialias_options(antialias, kwargs)
        return antialias(baseline(weights=None, **baseline_kwargs), filter_size=filter_size, **options)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"Antialiased {name} (torchvision's architecture with BlurPool before every subsampling)."
    return build
