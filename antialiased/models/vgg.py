"""Antialiased VGGs: torchvision's VGGs with every max pool blurred (MaxPool stride 1, then BlurPool)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models import vgg as tv_vgg

from antialiased.models.blurred import antialias_max_pools, antialiased_builder
from antialiased.models.resnet import DEFAULT_FILTER_SIZE


def antialias_vgg_(model: tv_vgg.VGG, filter_size: int = DEFAULT_FILTER_SIZE) -> tv_vgg.VGG:
    """Turn a torchvision VGG into the paper's antialiased VGG, in place, keeping its weights.

    Each `MaxPool2d(2, stride=2)` becomes `MaxPool2d(2, stride=1), BlurPool(stride=2)`, which shifts the
    indices of the later `features` layers exactly as in the published checkpoints.
    """
    model.features = nn.Sequential(*antialias_max_pools(model.features, filter_size))
    return model


BASELINES: dict[str, Callable[..., nn.Module]] = {
    "vgg11": tv_vgg.vgg11,
    "vgg11_bn": tv_vgg.vgg11_bn,
    "vgg13": tv_vgg.vgg13,
    "vgg13_bn": tv_vgg.vgg13_bn,
    "vgg16": tv_vgg.vgg16,
    "vgg16_bn": tv_vgg.vgg16_bn,
    "vgg19": tv_vgg.vgg19,
    "vgg19_bn": tv_vgg.vgg19_bn,
}
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    name: antialiased_builder(name, baseline, antialias_vgg_) for name, baseline in BASELINES.items()
}
