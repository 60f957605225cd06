"""Antialiased VGGs: torchvision's VGGs with every max pool blurred (MaxPool stride 1, then BlurPool)."""

from __future__ import annotations

from torch import nn
from torchvision.models import vgg as tv_vgg

from antialiased.models.blurred import DEFAULT_FILTER_SIZE, antialias_max_pools


def antialias_vgg_(model: tv_vgg.VGG, filter_size: int = DEFAULT_FILTER_SIZE) -> tv_vgg.VGG:
    """Turn a torchvision VGG into the paper's antialiased VGG, in place, keeping its weights.

    Each `MaxPool2d(2, stride=2)` becomes `MaxPool2d(2, stride=1), BlurPool(stride=2)`, which shifts the
    indices of the later `features` layers exactly as in the published checkpoints.
    """
    model.features = nn.Sequential(*antialias_max_pools(model.features, filter_size))
    return model
