"""Antialiased DenseNets: torchvision's DenseNets with a blurred stem max pool and BlurPool transitions."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import nn
from torchvision.models import densenet as tv_densenet

from antialiased.blurpool import BlurPool
from antialiased.models.blurred import DEFAULT_FILTER_SIZE, blurred_max_pool

# Checkpoints written before module names could not hold dots (torchvision's and the paper's published
# DenseNet files) name dense-layer tensors `norm.1` where today's models say `norm1`.
_LEGACY_DENSE_LAYER_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.")


def rename_legacy_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state_dict` with legacy dense-layer keys (`...denselayer1.norm.1.weight`) renamed to today's (`norm1`)."""
    return {_LEGACY_DENSE_LAYER_KEY.sub(r"\1\2.", key): value for key, value in state_dict.items()}


def antialias_densenet_(
    model: tv_densenet.DenseNet, filter_size: int = DEFAULT_FILTER_SIZE, pool_only: bool = True
) -> tv_densenet.DenseNet:
    """Turn a torchvision DenseNet into the paper's antialiased DenseNet, in place, keeping its weights.

    The stem's `pool0` becomes `max0` (the max pool at stride 1) followed by `pool0` (a BlurPool), and each
    transition's average pool becomes a BlurPool. `pool_only=False` also runs `conv0` at stride 1 and blurs
    after its ReLU (`ds0`), the paper's costlier variant.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = model.features.conv0.out_channels
    for name, layer in model.features.named_children():
        if name == "pool0":
            if not pool_only:
                model.features.conv0.stride = (1, 1)
                layers["ds0"] = BlurPool(channels, filt_size=filter_size, stride=2)
            layers["max0"], layers["pool0"] = blurred_max_pool(layer, channels, filter_size)
        else:
            if isinstance(layer, tv_densenet._Transition):
                layer.pool = BlurPool(layer.conv.out_channels, filt_size=filter_size, stride=layer.pool.stride)
            layers[name] = layer
    model.features = nn.Sequential(layers)
    return model
