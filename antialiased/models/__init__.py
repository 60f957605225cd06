"""The antialiased model zoo: every architecture of the paper's package, by name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from antialiased.models import alexnet, densenet, mobilenet, resnet, vgg

_FAMILIES = (alexnet, vgg, densenet, mobilenet)

# Architecture name -> builder taking `filter_size` (and the builder's own keyword arguments).
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    **{name: getattr(resnet, name) for name in resnet.BASELINES},
    **{name: build for family in _FAMILIES for name, build in family.ARCHITECTURES.items()},
}
# Architecture name -> torchvision builder of the plain baseline it antialiases.
BASELINES: dict[str, Callable[..., nn.Module]] = {
    **resnet.BASELINES,
    **{name: baseline for family in _FAMILIES for name, baseline in family.BASELINES.items()},
}


def create_model(arch: str, filter_size: int = resnet.DEFAULT_FILTER_SIZE, **kwargs) -> nn.Module:
    """Build the antialiased `arch` with random weights (load a checkpoint with `antialiased.weights`)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](filter_size=filter_size, **kwargs)


def create_baseline(arch: str, **kwargs) -> nn.Module:
    """Build torchvision's plain (not antialiased) `arch` with random weights, for comparisons."""
    if arch not in BASELINES:
        raise ValueError(f"no baseline for {arch!r}; known: {', '.join(sorted(BASELINES))}")
    return BASELINES[arch](weights=None, **kwargs)


def list_architectures() -> list[str]:
    """Names of all architectures `create_model` builds."""
    return sorted(ARCHITECTURES)
