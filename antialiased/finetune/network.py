"""The network to fine-tune (the forms of `--model` are `antialiased.networks`): a baseline with its weights,
antialiased, with a new classifier when asked.

`--model` names one of:
- a registry name: a torchvision baseline (`resnet50_baseline`) is antialiased, an antialiased checkpoint
  (`resnet50_lpf4`) is trained further as it is; a bare name is looked up in the registry first, so an entry
  spelled like a torchvision architecture takes it over (`torchvision:ARCH` always means torchvision's, and a
  registry name given with `--weights` is an error that says so);
- a torchvision architecture (`resnet50`, or `torchvision:resnet50`) or a timm one (`timm:resnet50d`), with its
  baseline weights from `--weights` (a checkpoint file, or a torchvision weights name such as IMAGENET1K_V1);
- `PATH:MODULE:CALLABLE`: a checkpoint PATH of the network the Python callable builds (the evaluation's notation).
An architecture of the zoo is antialiased by the zoo's own rewrite (`from_baseline`, which computes what
`antialias()` computes with the zoo's options), so its checkpoint is what serving builds by name; any other
network by `antialias()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from antialiased.antialiasing import antialias
from antialiased.convert import from_baseline
from antialiased.models.zoo import ZOO
from antialiased.networks import (
    ModelError,
    architecture_weights,
    built_by,
    new_classifier,
    parse_spec,
    timm_network,
    torchvision_network,
)
from antialiased.weights import fetch, load_entry_weights, load_weights
from antialiased.weights.registry import WeightsEntry


@dataclass(frozen=True)
class BuiltModel:
    """The antialiased network, the zoo architecture and filter size its state_dict fits (arch None: not the zoo's),
    and what it was built from (`timm:ARCH`, `module:callable`, ...: the registry's `arch` of its export)."""

    network: nn.Module
    arch: str | None
    filter_size: int
    source: str = ""


def build_model(
    spec: str, weights: str | None, filter_size: int, num_classes: int | None, crop_size: int
) -> BuiltModel:
    """The antialiased network of `spec` (see the module docstring) holding its baseline's weights."""
    parsed = parse_spec(spec, weights)
    if parsed.entry is not None:
        return _from_registry(parsed.entry, filter_size, num_classes)
    if parsed.builder is not None:
        network = load_weights(built_by(parsed.builder), parsed.path)
        return _antialiased(network, filter_size, num_classes, crop_size, parsed.builder)
    arch = parsed.arch
    if parsed.source == "timm":
        network = timm_network(arch)
    elif arch in ZOO:
        network = from_baseline(arch, architecture_weights(arch, weights), filter_size)
        return BuiltModel(new_classifier(network, num_classes), arch, filter_size, arch)
    else:
        network = torchvision_network(arch, spec)
    network = load_weights(network, architecture_weights(arch, weights))
    return _antialiased(network, filter_size, num_classes, crop_size, f"{parsed.source}:{arch}")


def _from_registry(entry: WeightsEntry, filter_size: int, num_classes: int | None) -> BuiltModel:
    if entry.format == "pt2":
        raise ModelError(
            f"--model {entry.name} is an exported program (.pt2), which is not trained further: fine-tune the "
            "checkpoint it was exported from"
        )
    path = fetch(entry.name)
    if entry.antialiased:
        network = new_classifier(load_entry_weights(entry, path), num_classes)
        return BuiltModel(network, entry.arch, entry.filter_size, entry.arch)
    network = from_baseline(entry.arch, path, filter_size)
    return BuiltModel(new_classifier(network, num_classes), entry.arch, filter_size, entry.arch)


def _antialiased(
    network: nn.Module, filter_size: int, num_classes: int | None, crop_size: int, source: str
) -> BuiltModel:
    network = new_classifier(network, num_classes)
    rewritten = antialias(network, filter_size, input_shape=(1, 3, crop_size, crop_size)).model
    return BuiltModel(rewritten, None, filter_size, source)
