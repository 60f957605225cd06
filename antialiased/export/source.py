"""What is exported: the eval-mode CPU network of a model spec, with its name, label set and preprocessing.

`--model` takes what fine-tuning takes (`antialiased.networks`), and exports the network as it is:
- a registry name: the entry's model with its verified weights and its label set (a zoo checkpoint, or an exported
  program, re-exported);
- `ARCH`, `torchvision:ARCH`, `timm:ARCH` or `PATH:MODULE:CALLABLE` with its checkpoint (`--weights`, or PATH):
  the network as built; with `--filter-size F` it is antialiased first (`antialias()`, or the zoo's own
  architecture), so that the checkpoint of an antialiased network (a fine-tuning output) fits; `--num-classes N`
  gives it a classifier of N outputs before the checkpoint is loaded.
The label set is the entry's, or `--classes FILE`, or ImageNet's for a network of 1000 outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from antialiased.antialiasing import antialias
from antialiased.label_sets import IMAGENET, LabelSet, check_classes, read_label_set
from antialiased.models.zoo import ZOO, create_model
from antialiased.networks import (
    ModelError,
    architecture_weights,
    built_by,
    new_classifier,
    num_classes_of,
    parse_spec,
    timm_network,
    torchvision_network,
)
from antialiased.preprocessing import CROP_SIZE, PAPER_PREPROCESSING, Preprocessing
from antialiased.weights import fetch, load_entry_weights, load_weights


class ExportError(ValueError):
    """A network that cannot be exported in a format, or whose export does not compute what it computes."""


@dataclass(frozen=True)
class ExportSource:
    """A network to export: its `name` (the registry's and the served model's), the eval-mode CPU `network`, its
    classes, the preprocessing it expects, and what it is (`arch`, and the blur's taps when antialiased)."""

    name: str
    network: nn.Module
    label_set: LabelSet
    arch: str
    filter_size: int | None = None
    preprocessing: Preprocessing = field(default=PAPER_PREPROCESSING)


def resolve_source(
    name: str,
    spec: str,
    weights: str | None = None,
    *,
    filter_size: int | None = None,
    num_classes: int | None = None,
    classes: Path | None = None,
) -> ExportSource:
    """The `ExportSource` of `spec` (see the module docstring); ModelError, WeightsError or LabelSetError naming
    the problem."""
    parsed = parse_spec(spec, weights)
    if parsed.entry is not None:
        entry = parsed.entry
        if filter_size is not None or num_classes is not None:
            raise ModelError(f"--model {spec} is a registry entry, exported as it is: drop --filter-size/--num-classes")
        network = load_entry_weights(entry, fetch(entry.name))
        if entry.format != "pt2":  # a program keeps the behaviour it was exported with (and has no .eval())
            network.eval()
        label_set = read_label_set(classes) if classes else entry.label_set
        check_classes(label_set, entry.classes, entry.name)
        return ExportSource(name, network, label_set, entry.arch, entry.filter_size)
    if parsed.builder is not None:
        network, arch, checkpoint = built_by(parsed.builder), parsed.builder, parsed.path
    elif parsed.source == "timm":
        network, arch, checkpoint = timm_network(parsed.arch), f"timm:{parsed.arch}", weights
    elif parsed.arch in ZOO and filter_size is not None:  # the zoo's antialiased architecture, as serving builds it
        network, arch = _zoo(parsed.arch, filter_size, num_classes), parsed.arch
        network = load_weights(network, architecture_weights(arch, weights), arch=arch)
        return _source(name, network, arch, filter_size, classes)
    else:
        network, arch = torchvision_network(parsed.arch, spec), f"torchvision:{parsed.arch}"
        checkpoint = architecture_weights(parsed.arch, weights)
    network = new_classifier(network, num_classes)
    if filter_size is not None:
        network = antialias(network, filter_size, input_shape=(1, 3, CROP_SIZE, CROP_SIZE)).model
    return _source(name, load_weights(network, checkpoint), arch, filter_size, classes)


def _zoo(arch: str, filter_size: int, num_classes: int | None) -> nn.Module:
    return create_model(arch, filter_size, **({} if num_classes is None else {"num_classes": num_classes}))


def _source(name: str, network: nn.Module, arch: str, filter_size: int | None, classes: Path | None) -> ExportSource:
    outputs = num_classes_of(network.eval(), CROP_SIZE)
    if classes is not None:
        label_set = read_label_set(classes)
    elif outputs == len(IMAGENET):
        label_set = IMAGENET
    else:
        raise ModelError(
            f"the network outputs {outputs} classes, not ImageNet's {len(IMAGENET)}: name them with --classes "
            f"LABELS.json (a JSON list of {outputs} class names, in class-index order)"
        )
    check_classes(label_set, outputs, "the network")
    return ExportSource(name, network, label_set, arch, filter_size)
