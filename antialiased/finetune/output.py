"""The result: the weights in the official format (`<name>-<sha256[:8]>.pth`) and, for a network of the zoo with
ImageNet's 1000 classes, its entry in a JSON registry (`ANTIALIASED_WEIGHTS_REGISTRY`, written atomically), after
which serving, probing and evaluation take it by name. Other checkpoints get no entry (the server builds only the
zoo's networks by name, and its labels are ImageNet's): a warning says how to load them."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from antialiased.labels import NUM_CLASSES
from antialiased.weights import RegistryError, save_checkpoint, sha256_file
from antialiased.weights.registry import WeightsEntry, get_entry

log = logging.getLogger(__name__)
WEIGHTS_DIR = "weights"
REGISTRY_FILE = "registry.json"


def check_name(name: str) -> None:
    """RegistryError, before any training, for a name the registry would refuse."""
    WeightsEntry(name=name, url="file:///x.pth", sha256_prefix="0" * 8, arch="x", filter_size=None)
    try:
        entry = get_entry(name)
    except KeyError:
        return
    if entry.source != "user":
        raise RegistryError(f"--name {name!r} is a published checkpoint's name: choose another")


def write_output(
    network: nn.Module,
    out: Path,
    name: str,
    arch: str | None,
    filter_size: int,
    num_classes: int,
    figures: dict[str, Any] | None,
    crop_size: int = 224,
) -> tuple[Path, WeightsEntry | None]:
    """Write the weights into `out/weights/`; add (or replace) the entry `name` of `out/registry.json` when the
    checkpoint fits `create_model(arch, filter_size)`. Returns the weights' path and the entry (or None)."""
    path = save_checkpoint(network, out / WEIGHTS_DIR, name)
    if arch is None or num_classes != NUM_CLASSES:
        log.warning("%s", no_entry_message(path, arch, filter_size, num_classes, crop_size))
        return path, None
    entry = WeightsEntry(
        name=name,
        url=path.resolve().as_uri(),
        sha256_prefix=sha256_file(path),
        arch=arch,
        filter_size=filter_size,
        finetuned=True,
        accuracy=figures["top1"]["value"] if figures else None,
        consistency=figures["consistency"]["value"] if figures else None,
        size=path.stat().st_size,
    )
    registry = out / REGISTRY_FILE
    entries = [item for item in _read(registry) if item.get("name") != name]
    record = {key: value for key, value in asdict(entry).items() if key != "source"}
    _write_atomically(registry, json.dumps([*entries, record], indent=2) + "\n")
    return path, entry


def no_entry_message(path: Path, arch: str | None, filter_size: int, num_classes: int, crop_size: int) -> str:
    """Why the checkpoint at `path` has no registry entry, and the Python that loads it instead."""
    if arch is not None:
        return (
            f"{path}: no registry entry ({num_classes} classes, not ImageNet's {NUM_CLASSES}: the server's labels "
            f"are ImageNet's, so it is not served by name); load it in Python: from antialiased.models import "
            f"create_model; from antialiased.weights import load_weights; model = load_weights(create_model("
            f"{arch!r}, filter_size={filter_size}, num_classes={num_classes}), {str(path)!r})"
        )
    return (
        f"{path}: no registry entry (not an architecture of the zoo, the only ones serving builds by name); load it "
        f"in Python into the network fine-tuning built: network = <your network, its last linear layer of "
        f"{num_classes} outputs>; from antialiased.antialiasing import antialias; from antialiased.weights import "
        f"load_weights; model = antialias(network, {filter_size}, input_shape=(1, 3, {crop_size}, {crop_size}))"
        f".model; load_weights(model, {str(path)!r})"
    )


def _write_atomically(path: Path, text: str) -> None:
    """`text` as the file `path`, written beside it and renamed over it: a reader sees the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".partial")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read(registry: Path) -> list[dict[str, Any]]:
    if not registry.is_file():
        return []
    items = json.loads(registry.read_text())
    if not isinstance(items, list):
        raise RegistryError(f"{registry}: expected a JSON list of entries")
    return items
