"""Antialiased models from plain torchvision weights, for users who fine-tune from a baseline checkpoint.

Every antialiased architecture of the zoo is torchvision's with BlurPool layers inserted, and antialiasing
adds no parameter. So a baseline state_dict loads strictly into torchvision's model, which is then antialiased
in place: every baseline tensor stays in its layer, and only the keys of moved layers change, e.g. for
resnet50 `layerN.0.conv3.*` -> `layerN.0.conv3.1.*`, `layerN.0.downsample.0/1.*` -> `downsample.1/2.*`;
for VGG and AlexNet the later `features.<i>` indices shift past the inserted BlurPools; for MobileNetV2
`classifier.1.*` -> `classifier.0.*`; DenseNets keep their keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import torch
from torch import nn

from antialiased.models import alexnet, create_baseline, densenet, mobilenet, resnet, vgg
from antialiased.models.blurred import split_antialias_options
from antialiased.weights import ArchitectureMismatchError, load_state_dict, load_weights

# Architecture -> the function that antialiases its torchvision baseline in place.
ANTIALIASERS: dict[str, Callable[..., nn.Module]] = {
    **dict.fromkeys(resnet.BASELINES, resnet.antialias_resnet_),
    **dict.fromkeys(alexnet.BASELINES, alexnet.antialias_alexnet_),
    **dict.fromkeys(vgg.BASELINES, vgg.antialias_vgg_),
    **dict.fromkeys(densenet.BASELINES, densenet.antialias_densenet_),
    **dict.fromkeys(mobilenet.BASELINES, mobilenet.antialias_mobilenet_v2_),
}


def from_baseline(
    arch: str,
    weights: str | os.PathLike | Mapping[str, torch.Tensor],
    filter_size: int = resnet.DEFAULT_FILTER_SIZE,
    **kwargs,
) -> nn.Module:
    """The antialiased `arch` (on the CPU) holding the weights of torchvision's plain `arch`.

    `weights` is a state_dict of torchvision's `arch` (legacy DenseNet keys such as `norm.1` are accepted) or a
    checkpoint file holding one. Keyword arguments go to the antialiasing (`pool_only`) or to torchvision's
    builder (`num_classes` for a fine-tuned classifier). The result's state_dict loads strictly into
    `create_model(arch, filter_size, ...)`; its blur filters are the only tensors the baseline did not have.

    Raises ValueError for an architecture without a baseline, and `ArchitectureMismatchError` naming the
    missing, unexpected and wrongly shaped keys when `weights` is not a state_dict of torchvision's `arch`.
    """
    if arch not in ANTIALIASERS:
        raise ValueError(f"no torchvision baseline for {arch!r}; known: {', '.join(sorted(ANTIALIASERS))}")
    antialias = ANTIALIASERS[arch]
    options, baseline_kwargs = split_antialias_options(antialias, kwargs)
    state = load_state_dict(weights) if isinstance(weights, str | os.PathLike) else weights
    with torch.device("meta"):  # no random initialisation: every tensor is loaded below
        model = create_baseline(arch, **baseline_kwargs)
    model.to_empty(device="cpu")
    try:
        load_weights(model, state)
    except ArchitectureMismatchError as exc:
        raise ArchitectureMismatchError(f"not a state_dict of torchvision's {arch}: {exc}") from None
    return antialias(model, filter_size=filter_size, **options)
