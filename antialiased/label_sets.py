"""A model's classes (torch-free): class index -> name, and optionally an id (an ImageNet synset, a product code).

A label set travels with a model: fine-tuning writes it beside the weights, a registry entry names its file, the
archive ships it, the handler answers with its names, and the evaluation maps class folders to its names and ids.
ImageNet's (`IMAGENET`) is the default of every model that names no other.

The file is JSON, a list in class-index order: of names (`["red", "green", "blue"]`) or of objects
(`[{"name": "tench", "id": "n01440764"}, ...]`). Names are unique, non-empty, printable; ids too, when given.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from antialiased.labels import IMAGENET_CATEGORIES, IMAGENET_SYNSETS
from antialiased.regular_files import UnreadableJson, read_json

LABELS_SUFFIX = ".labels.json"
MAX_CLASSES = 100_000
MAX_NAME_LENGTH = 200
MAX_FILE_BYTES = 16 * 1024 * 1024  # 100k classes of long names fit; a file beyond it is not parsed


class LabelSetError(ValueError):
    """A label set that cannot be a model's classes; the message names the file and the problem."""


@dataclass(frozen=True)
class ClassLabel:
    """One class: its name, and its id when it has one."""

    name: str
    id: str | None = None

    def to_json(self) -> dict[str, str] | str:
        return self.name if self.id is None else {"name": self.name, "id": self.id}


@dataclass(frozen=True)
class LabelSet:
    """The classes of a model in class-index order (see the module docstring)."""

    labels: tuple[ClassLabel, ...]

    def __post_init__(self) -> None:
        if not self.labels:
            raise LabelSetError("a label set needs at least one class")
        if len(self.labels) > MAX_CLASSES:
            raise LabelSetError(f"{len(self.labels)} classes: at most {MAX_CLASSES}")
        for index, label in enumerate(self.labels):
            _check_text(label.name, f"class {index}: name")
            if label.id is not None:
                _check_text(label.id, f"class {index}: id")
        _check_unique([label.name for label in self.labels], "name")
        _check_unique([label.id for label in self.labels if label.id is not None], "id")

    @classmethod
    def of_names(cls, names: Iterable[str], ids: Iterable[str | None] | None = None) -> LabelSet:
        names = list(names)
        return cls(tuple(map(ClassLabel, names, ids if ids is not None else [None] * len(names))))

    def __len__(self) -> int:
        return len(self.labels)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @cached_property
    def folder_index(self) -> dict[str, int]:
        """Class folder name -> class index: a folder named by a class's id or by its name."""
        ids = {label.id: index for index, label in enumerate(self.labels) if label.id is not None}
        return {**{name: index for index, name in enumerate(self.names)}, **ids}

    @property
    def is_imagenet(self) -> bool:
        return self == IMAGENET

    def to_json(self) -> list[dict[str, str] | str]:
        return [label.to_json() for label in self.labels]


def _check_text(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise LabelSetError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise LabelSetError(f"{what} is {len(value)} characters long: at most {MAX_NAME_LENGTH}")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise LabelSetError(f"{what} {value[:40]!r} holds a control character")


def _check_unique(values: Sequence[str], what: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise LabelSetError(f"classes {seen[value]} and {index} have the same {what} {value!r}")
        seen[value] = index


def parse_label_set(raw: object) -> LabelSet:
    """The label set of parsed JSON: a list of names or of {"name", "id"} objects; LabelSetError if it is none."""
    if not isinstance(raw, list):
        raise LabelSetError('expected a JSON list of class names, or of {"name": ..., "id": ...} objects')
    labels = []
    for index, item in enumerate(raw[: MAX_CLASSES + 1]):
        if isinstance(item, dict):
            unknown = set(item) - {"name", "id"}
            if unknown or "name" not in item:
                raise LabelSetError(f'class {index}: expected the keys "name" and optionally "id", got {sorted(item)}')
            labels.append(ClassLabel(item["name"], item.get("id")))
        else:
            labels.append(ClassLabel(item))
    return LabelSet(tuple(labels))


def read_label_set(path: str | os.PathLike) -> LabelSet:
    """The label set in the file `path`; LabelSetError naming the file and the problem."""
    path = Path(path)
    try:
        raw = read_json(path, MAX_FILE_BYTES)  # not a FIFO or a device: it would block or never end
    except UnreadableJson as error:
        raise LabelSetError(f"label set {path} {error}") from None
    try:
        return parse_label_set(raw)
    except LabelSetError as error:
        raise LabelSetError(f"label set {path}: {error}") from None


def label_set_text(labels: LabelSet) -> str:
    """The file text of `labels`."""
    return json.dumps(labels.to_json(), ensure_ascii=False, indent=1) + "\n"


def check_classes(labels: LabelSet, classes: int, what: str) -> None:
    """LabelSetError unless `labels` names exactly the `classes` outputs of `what` (a model, an entry)."""
    if len(labels) != classes:
        raise LabelSetError(f"{what} outputs {classes} classes, but its label set names {len(labels)}")


IMAGENET = LabelSet.of_names(IMAGENET_CATEGORIES, IMAGENET_SYNSETS)
