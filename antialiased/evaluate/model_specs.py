"""The models to evaluate: what `--model` names, and the network with its weights.

A model spec is one of:
- a registry name (`resnet50_lpf4_finetune`; see `python -m antialiased.weights list`), fetched and verified: a zoo
  checkpoint or an exported program (`.pt2`), with its label set;
- `PATH:ARCH:FILTER`: a checkpoint for the antialiased ARCH with filter size FILTER (1..7), or
  `PATH:ARCH:baseline` for torchvision's plain ARCH;
- `PATH:MODULE:CALLABLE`: a checkpoint for the network that the Python callable builds (the handler's
  `builder` notation), for architectures of your own;
- with `--endpoint URL`: the name of a model served by that TorchServe.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from antialiased.blurpool import FILTER_TAPS
from antialiased.label_sets import IMAGENET, LabelSet
from antialiased.models import create_baseline, create_model
from antialiased.preprocessing import CROP_SIZE
from antialiased.weights import fetch, get_entry, load_entry_weights, load_weights, sha256_file


class ModelSpecError(ValueError):
    """A --model value that names no model; the message says what is accepted."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from; `name` labels it in every output."""

    name: str
    spec: str
    kind: str  # "registry", "checkpoint" or "served"
    checkpoint: Path | None = None
    arch: str | None = None
    filter_size: int | None = None  # None: a plain baseline, or a builder's network
    builder: str | None = None  # "module:callable"

    def to_json(self) -> dict:
        """The source for result files, without the checkpoint's path (the weights' sha256 stands for it)."""
        return {key: value for key, value in asdict(self).items() if key != "checkpoint"}


@dataclass
class LoadedModel:
    """A source's eager network with its weights, the sha256 of its weights file, its number of classes and its
    label set (a registry entry's; ImageNet's for a checkpoint of 1000 classes; None: unknown)."""

    source: ModelSource
    network: nn.Module
    sha256: str
    num_classes: int
    label_set: LabelSet | None = None

    @property
    def name(self) -> str:
        return self.source.name


def parse_model_spec(spec: str, *, served: bool = False) -> ModelSource:
    """The ModelSource a --model value names (see the module docstring); ModelSpecError if none."""
    if served:
        return ModelSource(spec, spec, "served")
    parts = spec.rsplit(":", 2)
    if len(parts) == 1:
        get_entry(spec)  # UnknownWeightsError with the closest names
        return ModelSource(spec, spec, "registry")
    if len(parts) != 3 or not all(parts):
        raise ModelSpecError(
            f"--model {spec!r}: use a registry name, PATH:ARCH:FILTER, PATH:ARCH:baseline or PATH:MODULE:CALLABLE"
        )
    path, middle, last = parts
    checkpoint = Path(path)
    if not checkpoint.is_file():
        raise ModelSpecError(f"--model {spec!r}: the checkpoint {path} does not exist")
    name = checkpoint.stem
    if last == "baseline":
        return ModelSource(name, spec, "checkpoint", checkpoint, arch=middle)
    if last.isascii() and last.isdigit():
        if int(last) not in FILTER_TAPS:
            raise ModelSpecError(f"--model {spec!r}: filter size {last} is not in 1..{max(FILTER_TAPS)}")
        return ModelSource(name, spec, "checkpoint", checkpoint, arch=middle, filter_size=int(last))
    return ModelSource(name, spec, "checkpoint", checkpoint, builder=f"{middle}:{last}")


def unique_names(sources: list[ModelSource]) -> list[ModelSource]:
    """The sources, renamed `name#2`, `name#3`… where several share a name."""
    seen: dict[str, int] = {}
    renamed = []
    for source in sources:
        seen[source.name] = seen.get(source.name, 0) + 1
        count = seen[source.name]
        renamed.append(source if count == 1 else replace(source, name=f"{source.name}#{count}"))
    return renamed


def load_model(source: ModelSource) -> LoadedModel:
    """Build the network of `source` and load its weights (registry weights are fetched and hash-checked)."""
    label_set = None
    if source.kind == "registry":
        entry = get_entry(source.name)
        path = fetch(source.name)
        network = load_entry_weights(entry, path)  # a zoo checkpoint, or an exported program
        source = replace(source, arch=entry.arch, filter_size=entry.filter_size)
        label_set = entry.label_set
    else:
        path = source.checkpoint
        network = load_weights(_build(source), path, arch=source.arch)  # e.g. DenseNet's legacy keys
    network.eval()
    classes = _num_classes(network)
    if label_set is None and classes == len(IMAGENET):
        label_set = IMAGENET
    return LoadedModel(source, network, sha256_file(path), classes, label_set)


def _build(source: ModelSource) -> nn.Module:
    if source.builder is not None:
        module_name, _, attribute = source.builder.partition(":")
        try:
            builder = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ModelSpecError(f"--model {source.spec!r}: cannot import {source.builder}: {error}") from None
        return builder()
    try:
        return create_model(source.arch, source.filter_size) if source.filter_size else create_baseline(source.arch)
    except ValueError as error:
        raise ModelSpecError(f"--model {source.spec!r}: {error}") from None


@torch.inference_mode()
def _num_classes(network: nn.Module) -> int:
    """How many classes the network outputs (one forward pass of a black image)."""
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    return int(network(torch.zeros(1, 3, CROP_SIZE, CROP_SIZE, device=device)).shape[1])
