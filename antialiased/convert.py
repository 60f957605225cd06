"""Antialiased models from plain torchvision weights, for users who fine-tune from a baseline checkpoint.

Every antialiased architecture of the zoo is torchvision's with BlurPool layers inserted, and antialiasing
adds no parameter. So a baseline state_dict loads strictly into torchvision's model, which is then antialiased
in place by the zoo's function for that architecture: every baseline tensor stays in its layer, and only the
keys of moved layers change (each family's antialiasing function says which), e.g. for resnet50
`layerN.0.conv3.*` -> `layerN.0.conv3.1.*`, `layerN.0.downsample.0/1.*` -> `downsample.1/2.*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from antialiased.models import DEFAULT_FILTER_SIZE
from antialiased.models.zoo import get_architecture
from antialiased.weights import ArchitectureMismatchError, load_weights


def from_baseline(
    arch: str,
    weights: str | os.PathLike | Mapping[str, torch.Tensor],
    filter_size: int = DEFAULT_FILTER_SIZE,
    **kwargs,
) -> nn.Module:
    """The antialiased `arch` (on the CPU) holding the weights of torchvision's plain `arch`.

    `weights` is a state_dict of torchvision's `arch` (legacy DenseNet keys such as `norm.1` are accepted) or a
    checkpoint file holding one. Keyword arguments go to the antialiasing (`pool_only`) or to torchvision's
    builder (`num_classes` for a fine-tuned classifier). The result's state_dict loads strictly into
    `create_model(arch, filter_size, ...)`; its blur filters are the only tensors the baseline did not have.

    Raises ValueError for an architecture outside the zoo, and `ArchitectureMismatchError` naming the
    missing, unexpected and wrongly shaped keys when `weights` is not a state_dict of torchvision's `arch`.
    """
    architecture = get_architecture(arch)
    options, baseline_kwargs = architecture.split_options(kwargs)
    with torch.device("meta"):  # no random initialisation: every tensor is loaded below
        model = architecture.build_baseline(**baseline_kwargs)
    model.to_empty(device="cpu")
    try:
        load_weights(model, weights, arch=arch)
    except ArchitectureMismatchError as exc:
        raise ArchitectureMismatchError(f"not a state_dict of torchvision's {arch}: {exc}") from None
    return architecture.antialias(model, filter_size=filter_size, **options)
