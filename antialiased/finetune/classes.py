"""Which classes a run trains: the class index of each data folder, the label set the result carries, and the size
of the classifier to build.

- Folders named by ImageNet synsets, without `--num-classes`: ImageNet's 1000 classes (the paper's set-up).
- `--labels MAP` ({folder: class index or synset}): the map's indices; the label set names each class by its first
  folder (sorted), unless the model keeps ImageNet's 1000 classes (then it is ImageNet's).
- Otherwise (`--num-classes N`, or folders that are not all synsets): the data's own classes as torchvision's
  `ImageFolder` orders them, the sorted folder names 0..N-1, and a classifier of N outputs. A synset folder's class
  is named as ImageNet names it, with the synset as its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from antialiased.datasets import SYNSET_PATTERN, DataError, class_folders, load_label_map
from antialiased.label_sets import IMAGENET, ClassLabel, LabelSet
from antialiased.labels import IMAGENET_CATEGORIES, NUM_CLASSES, SYNSET_INDEX


@dataclass(frozen=True)
class Classes:
    """The class index of each folder (None: ImageNet's by synset), the label set, the classifier's size (None:
    the model's own)."""

    label_map: dict[str, int] | None
    label_set: LabelSet
    num_classes: int | None


def run_classes(data: Path, labels: Path | None, num_classes: int | None) -> Classes:
    """The classes of a run on the ImageFolder `data` (see the module docstring); DataError naming the problem."""
    if not data.is_dir():
        raise DataError(f"--data {data} is not a directory")
    if labels is not None:
        return _mapped(load_label_map(labels), num_classes, labels)
    folders = class_folders(data)
    if num_classes is None and folders and all(SYNSET_PATTERN.fullmatch(folder) for folder in folders):
        return Classes(None, IMAGENET, None)
    if num_classes is not None and num_classes != len(folders):
        raise DataError(
            f"--num-classes {num_classes}, but {data} holds {len(folders)} class folders ({_some(folders)}): one "
            "class per folder, or --labels LABELS.json mapping the folders to the classes"
        )
    if not folders:
        raise DataError(f"{data} holds no class folders (expected an ImageFolder tree: {data}/<class>/<image>)")
    return Classes({folder: index for index, folder in enumerate(folders)}, _folder_labels(folders), len(folders))


def _mapped(label_map: dict[str, int], num_classes: int | None, labels: Path) -> Classes:
    classes = num_classes if num_classes is not None else NUM_CLASSES
    if num_classes is None and max(label_map.values(), default=0) < NUM_CLASSES:
        return Classes(label_map, IMAGENET, None)  # folders mapped onto ImageNet's classes, kept by the model
    named = {index: folder for folder, index in sorted(label_map.items(), reverse=True)}  # the first folder wins
    missing = [index for index in range(classes) if index not in named]
    if missing:
        raise DataError(f"--labels {labels} maps no folder to class {_some(missing)} of the {classes}: the label set "
                        "of the result names every class by a folder")  # fmt: skip
    return Classes(label_map, _folder_labels([named[index] for index in range(classes)]), num_classes)


def _folder_labels(folders: list[str]) -> LabelSet:
    """Each folder's class: named by ImageNet for a synset folder (its id), by the folder's name otherwise."""
    synset = SYNSET_INDEX.get
    return LabelSet(
        tuple(
            ClassLabel(IMAGENET_CATEGORIES[synset(folder)], folder) if folder in SYNSET_INDEX else ClassLabel(folder)
            for folder in folders
        )
    )


def _some(items: list) -> str:
    return ", ".join(map(str, items[:5])) + (", …" if len(items) > 5 else "")
