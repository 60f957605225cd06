"""The result: the weights in the official format (`<name>-<sha256[:8]>.pth`) and, for a network of the zoo with
ImageNet's 1000 classes, its entry in a JSON registry (`ANTIALIASED_WEIGHTS_REGISTRY`), after which serving,
probing and evaluation take it by name."""

from __future__ import annotations

import json
import logging
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
) -> tuple[Path, WeightsEntry | None]:
    """Write the weights into `out/weights/`; add (or replace) the entry `name` of `out/registry.json` when the
    checkpoint fits `create_model(arch, filter_size)`. Returns the weights' path and the entry (or None)."""
    path = save_checkpoint(network, out / WEIGHTS_DIR, name)
    if arch is None or num_classes != NUM_CLASSES:
        why = "not a zoo architecture" if arch is None else f"{num_classes} classes, not ImageNet's {NUM_CLASSES}"
        log.warning(
            "%s: no registry entry (%s): load it with the library (antialiased.weights.load_weights)", path, why
        )
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
    )
    registry = out / REGISTRY_FILE
    entries = [item for item in _read(registry) if item.get("name") != name]
    record = {key: value for key, value in asdict(entry).items() if key != "source"}
    registry.write_text(json.dumps([*entries, record], indent=2) + "\n")
    return path, entry


def _read(registry: Path) -> list[dict[str, Any]]:
    if not registry.is_file():
        return []
    items = json.loads(registry.read_text())
    if not isinstance(items, list):
        raise RegistryError(f"{registry}: expected a JSON list of entries")
    return items
