"""The result: the weights in the official format (`<name>-<sha256[:8]>.pth`), the label set beside them (for classes
other than ImageNet's), and an entry in a JSON registry (`OUT/registry.json`, written atomically), after which
serving, probing and evaluation take it by name. A network of the zoo is registered as its checkpoint (serving builds
the zoo's networks); any other network is exported (`antialiased.export`'s pt2 format) and its program registered,
so that it is served without its source code. When the export fails, a warning says why and how to load the
weights in Python."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from antialiased.export.pt2 import write_pt2
from antialiased.export.source import ExportError, ExportSource
from antialiased.finetune.network import BuiltModel
from antialiased.label_sets import LABELS_SUFFIX, LabelSet, label_set_text
from antialiased.weights import save_checkpoint, sha256_file
from antialiased.weights.registry import WeightsEntry
from antialiased.weights.registry_file import REGISTRY_FILE, add_entry, write_atomically

log = logging.getLogger(__name__)
WEIGHTS_DIR = "weights"


def write_output(
    network: nn.Module,
    out: Path,
    name: str,
    built: BuiltModel,
    label_set: LabelSet,
    figures: dict[str, Any] | None,
    crop_size: int = 224,
) -> tuple[Path, str | None]:
    """Write the weights (and label set) into `out/weights/` and register the result as `name` in
    `out/registry.json` (see the module docstring). Returns the weights' path and the registered name (or None)."""
    path = save_checkpoint(network, out / WEIGHTS_DIR, name)
    labels = None
    if not label_set.is_imagenet:  # ImageNet's is every model's default: not copied
        labels = path.with_name(path.stem + LABELS_SUFFIX)
        write_atomically(labels, label_set_text(label_set))
    if built.arch is None:
        return path, _exported(network, out, name, built, label_set, path, crop_size)
    entry = WeightsEntry(
        name=name,
        url=path.resolve().as_uri(),
        sha256_prefix=sha256_file(path),
        arch=built.arch,
        filter_size=built.filter_size,
        finetuned=True,
        accuracy=figures["top1"]["value"] if figures else None,
        consistency=figures["consistency"]["value"] if figures else None,
        size=path.stat().st_size,
        num_classes=len(label_set),
        labels=None if labels is None else str(labels),
    )
    add_entry(out / REGISTRY_FILE, entry)
    return path, name


def _exported(
    network: nn.Module, out: Path, name: str, built: BuiltModel, label_set: LabelSet, path: Path, crop_size: int
) -> str | None:
    """The network outside the zoo exported and registered as `name`; None (and a warning) when it cannot be."""
    source = ExportSource(name, network.eval().cpu(), label_set, built.source, built.filter_size)
    try:
        write_pt2(source, out)
    except ExportError as error:
        log.warning("%s", no_entry_message(path, built.filter_size, len(label_set), crop_size, str(error)))
        return None
    return name


def no_entry_message(path: Path, filter_size: int, num_classes: int, crop_size: int, why: str) -> str:
    """Why the checkpoint at `path` of a network outside the zoo has no registry entry, and the Python that loads
    it instead."""
    return (
        f"{path}: no registry entry ({why}); load it in Python into the network fine-tuning built: network = <your "
        f"network, its last linear layer of {num_classes} outputs>; from antialiased.antialiasing import antialias; "
        f"from antialiased.weights import load_weights; model = antialias(network, {filter_size}, input_shape=(1, 3, "
        f"{crop_size}, {crop_size})).model; load_weights(model, {str(path)!r})"
    )
