"""The model zoo as one table: each architecture of the paper's package with torchvision's builder of its
baseline, the function that antialiases that baseline in place, and (DenseNets only) a hook that renames the
legacy keys of its checkpoints. Building, conversion (`antialiased.convert`) and loading all read this table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torchvision import models as tv

from antialiased.models import alexnet, densenet, mobilenet, resnet, vgg
from antialiased.models.blurred import DEFAULT_FILTER_SIZE

KeyHook = Callable[[Mapping[str, torch.Tensor]], Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class Architecture:
    """One row of the zoo: `baseline` is torchvision's builder, `antialias(model, filter_size, ...)` turns its
    model into the antialiased one in place, `rename_keys` (if any) maps old checkpoint keys to today's."""

    name: str
    baseline: Callable[..., nn.Module]
    antialias: Callable[..., nn.Module]
    rename_keys: KeyHook | None = None

    def split_options(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split builder keyword arguments into those `antialias` declares (such as `pool_only`) and torchvision's."""
        options = set(inspect.signature(self.antialias).parameters) - {"model", "filter_size"}
        ours = {key: value for key, value in kwargs.items() if key in options}
        return ours, {key: value for key, value in kwargs.items() if key not in options}

    def build_baseline(self, **kwargs) -> nn.Module:
        """torchvision's plain model with random weights; keyword arguments go to torchvision's builder."""
        return self.baseline(weights=None, **kwargs)

    def build(self, filter_size: int = DEFAULT_FILTER_SIZE, **kwargs) -> nn.Module:
        """The antialiased model with random weights; keyword arguments go to `antialias` or to torchvision."""
        options, baseline_kwargs = self.split_options(kwargs)
        return self.antialias(self.build_baseline(**baseline_kwargs), filter_size=filter_size, **options)


def _family(
    antialias: Callable[..., nn.Module], *baselines: Callable[..., nn.Module], rename_keys: KeyHook | None = None
) -> list[Architecture]:
    # torchvision's builders are named after their architecture.
    return [Architecture(baseline.__name__, baseline, antialias, rename_keys) for baseline in baselines]


ZOO: Mapping[str, Architecture] = MappingProxyType(
    {
        architecture.name: architecture
        for architecture in (
            *_family(
                resnet.antialias_resnet_,
                *(tv.resnet18, tv.resnet34, tv.resnet50, tv.resnet101, tv.resnet152),
                *(tv.resnext50_32x4d, tv.resnext101_32x8d, tv.wide_resnet50_2, tv.wide_resnet101_2),
            ),
            *_family(alexnet.antialias_alexnet_, tv.alexnet),
            *_family(
                vgg.antialias_vgg_,
                *(tv.vgg11, tv.vgg11_bn, tv.vgg13, tv.vgg13_bn, tv.vgg16, tv.vgg16_bn, tv.vgg19, tv.vgg19_bn),
            ),
            *_family(
                densenet.antialias_densenet_,
                *(tv.densenet121, tv.densenet161, tv.densenet169, tv.densenet201),
                rename_keys=densenet.rename_legacy_keys,
            ),
            *_family(mobilenet.antialias_mobilenet_v2_, tv.mobilenet_v2),
        )
    }
)


def get_architecture(arch: str) -> Architecture:
    """The zoo's row for `arch`; ValueError naming the known architectures otherwise."""
    if arch not in ZOO:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(list_architectures())}")
    return ZOO[arch]


def list_architectures() -> list[str]:
    """Names of all architectures `create_model` and `create_baseline` build."""
    return sorted(ZOO)


def create_model(arch: str, filter_size: int = DEFAULT_FILTER_SIZE, **kwargs) -> nn.Module:
    """Build the antialiased `arch` with random weights (load a checkpoint with `antialiased.weights`)."""
    return get_architecture(arch).build(filter_size, **kwargs)


def create_baseline(arch: str, **kwargs) -> nn.Module:
    """Build torchvision's plain (not antialiased) `arch` with random weights, for comparisons."""
    return get_architecture(arch).build_baseline(**kwargs)


def rename_checkpoint_keys(arch: str | None, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """`state` with its keys renamed by `arch`'s hook (legacy DenseNet names); unchanged for architectures
    without one, for names outside the zoo (models of one's own) and for None."""
    architecture = ZOO.get(arch)
    if architecture is None or architecture.rename_keys is None:
        return state
    return architecture.rename_keys(state)
