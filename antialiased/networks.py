"""What a model spec names (shared by fine-tuning and export): the forms of `--model`, and the networks and weights
of torchvision, timm and your own modules.

A spec is one of:
- a registry name (`python -m antialiased.weights list`): a published checkpoint, or yours (a fine-tuning or export
  output, through ANTIALIASED_WEIGHTS_REGISTRY);
- `ARCH`, `torchvision:ARCH` or `timm:ARCH`: an architecture of torchvision (or of the zoo, which is torchvision's
  antialiased) or of timm, whose weights come from `--weights` (a checkpoint file, or a torchvision weights name);
- `PATH:MODULE:CALLABLE`: the checkpoint PATH of the network the Python callable builds.
A bare name is looked up in the registry first: an entry spelled like an architecture takes the name over
(`torchvision:ARCH` always means torchvision's).
"""

from __future__ import annotations

import difflib
import importlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from antialiased.models.zoo import ZOO
from antialiased.weights import UnknownWeightsError, get_entry
from antialiased.weights.checkpoint import load_problem
from antialiased.weights.registry import WeightsEntry

SOURCES = ("torchvision", "timm")


class ModelError(ValueError):
    """A --model / --weights that names no network; the message says what is accepted."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: a registry `entry`, an architecture of `source` (torchvision or timm), or a `builder`
    ('module:callable') with the checkpoint `path`."""

    text: str
    entry: WeightsEntry | None = None
    source: str | None = None
    arch: str | None = None
    builder: str | None = None
    path: str | None = None


def parse_spec(spec: str, weights: str | None) -> ModelSpec:
    """What `spec` names (see the module docstring); ModelError if nothing, or if `weights` does not fit it."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3:
        path, module, attribute = parts
        if not Path(path).is_file():
            raise ModelError(f"--model {spec!r}: the checkpoint {path} does not exist")
        return ModelSpec(spec, builder=f"{module}:{attribute}", path=path)
    source, _, arch = spec.rpartition(":")
    if not source:
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
            return ModelSpec(spec, entry=entry)
    if source not in ("", *SOURCES):
        raise ModelError(
            f"--model {spec!r}: use a registry name, ARCH, torchvision:ARCH, timm:ARCH or PATH:MODULE:CALLABLE"
        )
    if weights is None:
        raise ModelError(f"--model {spec}: give its weights with --weights (a checkpoint file or, for torchvision, a "
                         "weights name such as IMAGENET1K_V1)")  # fmt: skip
    if source != "timm" and arch not in ZOO and arch not in torchvision.models.list_models():
        raise _unknown_architecture(arch, spec)
    return ModelSpec(spec, source=source or "torchvision", arch=arch)


def torchvision_network(arch: str, spec: str) -> nn.Module:
    """torchvision's `arch` with random weights; ModelError with the closest names for an unknown one."""
    try:
        return torchvision.models.get_model(arch, weights=None)
    except ValueError:
        raise _unknown_architecture(arch, spec) from None


def _unknown_architecture(arch: str, spec: str) -> ModelError:
    names = [*torchvision.models.list_models(), *(entry for entry in ZOO)]
    close = difflib.get_close_matches(arch, names, n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.models.list_models()"
    return ModelError(f"--model {spec!r}: not a registry name nor a torchvision architecture; {hint}")


def timm_network(arch: str) -> nn.Module:
    """timm's `arch` with random weights; ModelError when timm is missing or does not know it."""
    try:
        timm = importlib.import_module("timm")
    except ImportError:
        raise ModelError(f"--model timm:{arch}: timm is not installed (pip install timm)") from None
    try:
        return timm.create_model(arch, pretrained=False)
    except RuntimeError as error:  # timm's "Unknown model"
        raise ModelError(f"--model timm:{arch}: {error}") from None


def built_by(builder: str) -> nn.Module:
    """The network that the callable `builder` ('module:callable') returns."""
    module_name, _, attribute = builder.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ModelError(f"--model: cannot import {builder}: {error}") from None
    return function()


def architecture_weights(arch: str, weights: str) -> str | dict[str, torch.Tensor]:
    """A checkpoint path, or the state_dict of torchvision's weights of `arch` called `weights` (downloaded once)."""
    if Path(weights).is_file():
        return weights
    try:
        enum = torchvision.models.get_model_weights(arch)[weights]
    except (KeyError, ValueError):
        raise ModelError(f"--weights {weights}: neither a file nor a torchvision weights name of {arch}") from None
    try:  # torch.hub loads with weights_only=False unless told: a file planted in its cache would run as code
        return enum.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        problem = load_problem(error)
        raise ModelError(f"--weights {weights}: cannot load torchvision's {arch} weights: {problem}") from None


def new_classifier(network: nn.Module, num_classes: int | None) -> nn.Module:
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


def num_classes_of(network: nn.Module, crop_size: int) -> int:
    """How many classes `network` outputs (a forward pass of one black image, in eval mode; its mode is kept)."""
    training = network.training
    try:
        with torch.no_grad():
            classes = network.eval()(torch.zeros(1, 3, crop_size, crop_size)).shape[1]
    except RuntimeError as error:  # e.g. "Output size is too small" of a pooling layer
        reason = str(error).splitlines()[0]
        raise ModelError(f"--crop-size {crop_size}: the model does not run on crops of that size ({reason}); "
                         "give a larger --crop-size") from None  # fmt: skip
    finally:
        network.train(training)
    return int(classes)
