"""Exported programs for tests: a small network of the tests' own module exported by the CLI, and hostile variants
of a `.pt2` file (one member replaced, added or compressed)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from antialiased.export.cli import main as export_main
from antialiased.weights import save_checkpoint
from antialiased.weights.registry_file import REGISTRY_FILE
from tests.support.models import small_cnn

SMALL_BUILDER = "tests.support.models.small_cnn:antialiased_small_cnn"
# Members of a .pt2 archive, below its root folder (one program, named `model` by torch.export.save).
MODEL_JSON = "models/model.json"
WEIGHTS_CONFIG = "data/weights/model_weights_config.json"
CONSTANTS_CONFIG = "data/constants/model_constants_config.json"
SAMPLE_INPUTS = "data/sample_inputs/model.pt"
COLOURS = ("red", "green", "blue")


def write_classes(path: Path, names: list | tuple = COLOURS) -> Path:
    path.write_text(json.dumps(list(names)))
    return path


def small_checkpoint(folder: Path, seed: int = 0) -> Path:
    """The weights of the antialiased SmallCnn (seeded), in the official format."""
    torch.manual_seed(seed)
    return save_checkpoint(small_cnn.antialiased_small_cnn(), folder, "small_cnn")


def export_small(folder: Path, name: str = "small") -> tuple[Path, Path]:
    """Export the antialiased SmallCnn (its checkpoint written first) into `folder/export` with the CLI: the
    checkpoint and the registry file."""
    checkpoint = small_checkpoint(folder)
    classes = write_classes(folder / "classes.json")
    out = folder / "export"
    status = export_main(["--model", f"{checkpoint}:{SMALL_BUILDER}", "--classes", str(classes), "--out", str(out),
                          "--name", name])  # fmt: skip
    assert status == 0
    return checkpoint, out / REGISTRY_FILE


def program_file(registry: Path, name: str) -> Path:
    (entry,) = [item for item in json.loads(registry.read_text()) if item["name"] == name]
    return registry.parent / entry["url"]


def rewritten(
    source: Path,
    target: Path,
    change: Callable[[str, bytes], bytes | None] = lambda name, data: data,
    add: dict[str, bytes] | None = None,
    compress: bool = False,
) -> Path:
    """`source` rewritten as `target`: each member (its path below the root folder) through `change` (None drops
    it), then the members of `add`; stored as torch stores them, or compressed."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", mode) as copy:
        root = original.namelist()[0].split("/", 1)[0]
        for info in original.infolist():
            data = change(info.filename.split("/", 1)[1], original.read(info.filename))
            if data is not None:
                copy.writestr(info.filename, data)
        for name, data in (add or {}).items():
            copy.writestr(f"{root}/{name}", data)
    return target


def edited_json(member: str, edit: Callable[[dict], None]) -> Callable[[str, bytes], bytes]:
    """A `change` that edits the JSON member `member` in place with `edit`."""

    def change(name: str, data: bytes) -> bytes:
        if name != member:
            return data
        document = json.loads(data)
        edit(document)
        return json.dumps(document).encode()

    return change


def marker_guard(marker: Path) -> Callable[[str, bytes], bytes]:
    """A `change` adding a guard that creates the file `marker` when the program's guards run."""

    def edit(document: dict) -> None:
        document["guards_code"].append(f"__import__('os').system('touch {marker}') == 0")

    return edited_json(MODEL_JSON, edit)


class PooledClassifier(nn.Module):
    """A classifier of `classes` outputs on the mean colour: the smallest (N, 3, H, W) -> (N, classes) network."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(3, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


class Features(nn.Module):
    """Not a classifier: it answers a map per image, (N, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


class Pair(nn.Module):
    """Not a classifier: it answers two tensors."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = x.mean(dim=(2, 3))
        return pooled, pooled


def saved_program(module: nn.Module, path: Path, dynamic: bool = True, channels: int = 3) -> Path:
    """`module` exported for (2, channels, 8, 8) images, its batch dynamic unless not `dynamic`, saved as `path`."""
    shapes = ({0: Dim.AUTO},) if dynamic else None
    torch.export.save(torch.export.export(module, (torch.zeros(2, channels, 8, 8),), dynamic_shapes=shapes), path)
    return path
