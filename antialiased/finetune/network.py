"""The network to fine-tune: a baseline with its weights, antialiased, with a new classifier when asked.

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

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from antialiased.antialiasing import antialias
from antialiased.convert import from_baseline
from antialiased.models.zoo import ZOO
from antialiased.weights import UnknownWeightsError, fetch, get_entry, load_entry_weights, load_weights


class ModelError(ValueError):
    """A --model / --weights that names no network to fine-tune; the message says what is accepted."""


@dataclass(frozen=True)
class BuiltModel:
    """The antialiased network, and the zoo architecture and filter size its state_dict fits (None: not the zoo's)."""

    network: nn.Module
    arch: str | None
    filter_size: int


def build_model(
    spec: str, weights: str | None, filter_size: int, num_classes: int | None, crop_size: int
) -> BuiltModel:
    """The antialiased network of `spec` (see the module docstring) holding its baseline's weights."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3:
        path, module, attribute = parts
        network = load_weights(_import(f"{module}:{attribute}")(), _checkpoint(path, spec))
        return _antialiased(network, filter_size, num_classes, crop_size)
    source, _, arch = spec.rpartition(":")
    if not source:  # a bare name: the registry's first, then torchvision's (`torchvision:ARCH` skips the registry)
        try:
            entry = get_entry(spec)
        except UnknownWeightsError:
            entry = None
        if entry is not None and weights is not None:
            also = spec in torchvision.models.list_models()
            hint = f", or for torchvision's {spec} with these weights write --model torchvision:{spec}" if also else ""
            raise ModelError(
                f"--model {spec!r} is a registry name, whose weights are the registry's, yet --weights was given: "
                f"drop --weights{hint}"
            )
        if entry is not None:
            return _from_registry(spec, filter_size, num_classes)
    if source not in ("", "torchvision", "timm"):
        raise ModelError(
            f"--model {spec!r}: use a registry name, ARCH, torchvision:ARCH, timm:ARCH or PATH:MODULE:CALLABLE"
        )
    if weights is None:
        raise ModelError(f"--model {spec}: give its baseline weights with --weights (a checkpoint file or, for "
                         "torchvision, a weights name such as IMAGENET1K_V1)")  # fmt: skip
    if source == "timm":
        network = _timm(arch)
    elif arch in ZOO:
        network = from_baseline(arch, _torchvision_weights(arch, weights), filter_size)
        return BuiltModel(_new_classifier(network, num_classes), arch, filter_size)
    else:
        network = _torchvision(arch, spec)
    network = load_weights(network, _torchvision_weights(arch, weights))
    return _antialiased(network, filter_size, num_classes, crop_size)


def num_classes_of(network: nn.Module, crop_size: int) -> int:
    """How many classes `network` outputs (a forward pass of one black image, in eval mode; its mode is kept)."""
    training = network.training
    with torch.no_grad():
        classes = network.eval()(torch.zeros(1, 3, crop_size, crop_size)).shape[1]
    network.train(training)
    return int(classes)


def _from_registry(name: str, filter_size: int, num_classes: int | None) -> BuiltModel:
    entry = get_entry(name)
    path = fetch(name)
    if entry.antialiased:
        return BuiltModel(_new_classifier(load_entry_weights(entry, path), num_classes), entry.arch, entry.filter_size)
    network = from_baseline(entry.arch, path, filter_size)
    return BuiltModel(_new_classifier(network, num_classes), entry.arch, filter_size)


def _antialiased(network: nn.Module, filter_size: int, num_classes: int | None, crop_size: int) -> BuiltModel:
    network = _new_classifier(network, num_classes)
    rewritten = antialias(network, filter_size, input_shape=(1, 3, crop_size, crop_size)).model
    return BuiltModel(rewritten, None, filter_size)


def _new_classifier(network: nn.Module, num_classes: int | None) -> nn.Module:
    """`network` with its last linear layer replaced by a new one of `num_classes` outputs (None: kept)."""
    if num_classes is None:
        return network
    linear = [(name, module) for name, module in network.named_modules() if isinstance(module, nn.Linear)]
    if not linear:
        raise ModelError("--num-classes: the network has no linear classifier to replace")
    name, last = linear[-1]
    if last.out_features != num_classes:
        network.set_submodule(name, nn.Linear(last.in_features, num_classes, bias=last.bias is not None))
    return network


def _torchvision(arch: str, spec: str) -> nn.Module:
    try:
        return torchvision.models.get_model(arch, weights=None)
    except ValueError:
        names = [*torchvision.models.list_models(), *(entry for entry in ZOO)]
        close = difflib.get_close_matches(arch, names, n=5, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.models.list_models()"
        raise ModelError(f"--model {spec!r}: not a registry name nor a torchvision architecture; {hint}") from None


def _timm(arch: str) -> nn.Module:
    try:
        timm = importlib.import_module("timm")
    except ImportError:
        raise ModelError(f"--model timm:{arch}: timm is not installed (pip install timm)") from None
    try:
        return timm.create_model(arch, pretrained=False)
    except RuntimeError as error:  # timm's "Unknown model"
        raise ModelError(f"--model timm:{arch}: {error}") from None


def _torchvision_weights(arch: str, weights: str) -> str | dict[str, torch.Tensor]:
    """A checkpoint path, or the state_dict of torchvision's weights called `weights` (downloaded once)."""
    if Path(weights).is_file():
        return weights
    try:
        return torchvision.models.get_model_weights(arch)[weights].get_state_dict(progress=True)
    except (KeyError, ValueError):
        raise ModelError(f"--weights {weights}: neither a file nor a torchvision weights name of {arch}") from None


def _checkpoint(path: str, spec: str) -> str:
    if not Path(path).is_file():
        raise ModelError(f"--model {spec!r}: the checkpoint {path} does not exist")
    return path


def _import(builder: str) -> type[nn.Module]:
    module_name, _, attribute = builder.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ModelError(f"--model: cannot import {builder}: {error}") from None
