"""Writing a JSON registry (the file ANTIALIASED_WEIGHTS_REGISTRY names): fine-tuning and export add their outputs.

Entries name their files relative to the registry's folder (a `url` without a scheme, a `labels` path), so the
folder can be moved or mounted elsewhere (a container's volume) as a whole. The file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from antialiased.weights.errors import RegistryError, UnknownWeightsError
from antialiased.weights.registry import WeightsEntry, get_entry

REGISTRY_FILE = "registry.json"


def check_name(name: str) -> None:
    """RegistryError, before any work, for a name the registry would refuse (malformed, or a published one's)."""
    WeightsEntry(name=name, url="file:///x.pth", sha256_prefix="0" * 8, arch="x", filter_size=None)
    try:
        entry = get_entry(name)
    except UnknownWeightsError:
        return
    if entry.source != "user":
        raise RegistryError(f"--name {name!r} is a published checkpoint's name: choose another")


def add_entry(registry: Path, entry: WeightsEntry) -> None:
    """Add `entry` to the registry file `registry` (replacing the entry of its name), its files named relative to
    the registry's folder."""
    entries = [item for item in read_entries(registry) if item.get("name") != entry.name]
    record = {key: value for key, value in asdict(entry).items() if key != "source"}
    folder = registry.parent.resolve()
    if urlsplit(entry.url).scheme == "file":
        record["url"] = _relative(Path(url2pathname(urlsplit(entry.url).path)), folder)
    if entry.labels is not None:
        record["labels"] = _relative(Path(entry.labels), folder)
    write_atomically(registry, json.dumps([*entries, record], indent=2) + "\n")


def _relative(path: Path, folder: Path) -> str:
    """`path` relative to `folder` when it lies under it (as a URL path: '/' separators), else absolute."""
    path = path.resolve()
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def read_entries(registry: Path) -> list[dict[str, Any]]:
    """The raw entries of the registry file (none when it does not exist)."""
    if not registry.is_file():
        return []
    items = json.loads(registry.read_text())
    if not isinstance(items, list):
        raise RegistryError(f"{registry}: expected a JSON list of entries")
    return items


def write_atomically(path: Path, text: str) -> None:
    """`text` as the file `path`, written beside it and renamed over it: a reader sees the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".partial")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
