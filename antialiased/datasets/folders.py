"""Which images to evaluate, with which labels: an ImageFolder tree or an ImageNet validation folder.

Order and class folders follow torchvision's `ImageFolder` (sorted class folders, then sorted files
walked recursively, the same image extensions), so images come in the order of the paper's loader.
Labels are class indices of the model: a folder named by an ImageNet synset (`n01440764`) maps to
its ImageNet class index, as in the paper's set-up; any other folder needs an entry in a label map.
Folders that do not map, and empty folders, are skipped and listed, never silently dropped; so are link cycles,
files that are not regular files, and second names of one file (see `files`: a hostile tree cannot loop or hang
the listing).

Folders of frame sequences and of videos (ImageNet-P's layout among them) are the sequence measure's:
`sequences.discover_sequences`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from antialiased.datasets.files import Skipped, TreeWalk
from antialiased.label_sets import MAX_FILE_BYTES, LabelSet
from antialiased.labels import IMAGENET_CATEGORIES, SYNSET_INDEX
from antialiased.regular_files import UnreadableJson, read_json
from antialiased.sequences.imagenet_p import SequencePlan

log = logging.getLogger(__name__)
SYNSET_PATTERN = re.compile(r"n\d{8}")
LOC_HEADER = "ImageId,PredictionString"
NO_LABEL = -1  # a sequence's: the sequence measure compares frames with each other


class DataError(ValueError):
    """A data set that cannot be evaluated; the message names the problem and what to do."""


@dataclass(frozen=True)
class Sample:
    """One image: its path, its path relative to the data root (the join key across runs), its label; or one
    sequence: its folder (and its frames in order) or its video file, its relative path, NO_LABEL, and its plan."""

    path: Path
    relpath: str
    label: int
    folder: str  # the class folder (or the synset of a validation image; a sequence's own folder)
    frames: tuple[Path, ...] = ()
    sequence: SequencePlan | None = None


@dataclass(frozen=True)
class Fingerprint:
    """How many files, and the sha256 of their sorted relative paths and sizes (one 'path\\tsize' line each)."""

    files: int
    sha256: str


@dataclass(frozen=True)
class Dataset:
    root: Path
    kind: str  # "imagefolder", "imagenet-val"; of sequences "sequences" (frames), "videos" or "imagenet-p"
    samples: tuple[Sample, ...]
    skipped_folders: tuple[Skipped, ...] = ()
    total_images: int = 0  # before --limit
    skipped_files: tuple[Skipped, ...] = ()  # links, non-regular files and second names: relpath, why

    @cached_property
    def fingerprint(self) -> Fingerprint:
        """Of the image files; of a folder of sequences, of every frame (`sequence/frame`)."""
        files = [
            (f"{s.relpath}/{frame.name}", frame) if s.frames else (s.relpath, s.path)
            for s in self.samples
            for frame in (s.frames or (s.path,))
        ]
        lines = sorted(f"{relpath}\t{path.stat().st_size}\n" for relpath, path in files)
        return Fingerprint(len(lines), hashlib.sha256("".join(lines).encode()).hexdigest())

    def limited(self, limit: int | None) -> Dataset:
        """The first `limit` of evenly spaced images (every class keeps its share), in loader order."""
        if limit is None or limit >= len(self.samples):
            return self
        if limit < 1:
            raise DataError(f"--limit must be at least 1, got {limit}")
        n = len(self.samples)
        return replace(self, samples=tuple(self.samples[i * n // limit] for i in range(limit)))

    def class_name(self, label: int) -> str:
        """A readable name of class index `label`: the folder(s) that map to it, with the ImageNet name if any."""
        folders = sorted({s.folder for s in self.samples if s.label == label})
        name = ", ".join(folders) or str(label)
        if folders and all(SYNSET_PATTERN.fullmatch(f) for f in folders) and label < len(IMAGENET_CATEGORIES):
            return f"{name} ({IMAGENET_CATEGORIES[label]})"
        return name


def load_label_map(path: str | os.PathLike) -> dict[str, int]:
    """A JSON object mapping folder names to class indices (integers) or to ImageNet synset ids."""
    try:
        raw = read_json(path, MAX_FILE_BYTES)  # a file of classes, as a label set is
    except UnreadableJson as error:
        raise DataError(f"the label map {path} {error}") from None
    if not isinstance(raw, dict):
        raise DataError(f"the label map {path} must be a JSON object {{folder: class index or synset}}")
    mapping = {}
    for folder, value in raw.items():
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            mapping[folder] = value
        elif isinstance(value, str) and value in SYNSET_INDEX:
            mapping[folder] = SYNSET_INDEX[value]
        else:
            raise DataError(f"label map {path}: {folder!r} -> {value!r} is neither a class index >= 0 nor a synset")
    return mapping


def discover(
    root: str | os.PathLike,
    *,
    label_map: dict[str, int] | None = None,
    ground_truth: str | os.PathLike | None = None,
    label_set: LabelSet | None = None,
) -> Dataset:
    """The images under `root`: an ImageFolder tree, or (with `ground_truth`) a flat ImageNet validation folder.
    A class folder maps by `label_map`, else to the class of `label_set` (the model's) that it names (by name or
    id), else (no label set) by ImageNet synset."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--data {root} is not a directory")
    if ground_truth:
        dataset = _imagenet_val(root, Path(ground_truth))
    else:
        dataset = _image_folder(root, label_map or {}, label_set)
    warn_skipped(dataset)
    return dataset


def warn_skipped(dataset: Dataset) -> None:
    root = dataset.root
    if dataset.skipped_files:
        first = dataset.skipped_files[0]
        log.warning(
            "%d entries of %s skipped, e.g. %s (%s); all are listed in the results",
            len(dataset.skipped_files),
            root,
            first.name,
            first.reason,
        )


def class_folders(root: Path) -> list[str]:
    """The folders of `root`, sorted: the classes of an ImageFolder, in class-index order."""
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir())


def _image_folder(root: Path, label_map: dict[str, int], label_set: LabelSet | None) -> Dataset:
    walk = TreeWalk(root)
    folders = class_folders(root)
    if not folders:
        raise DataError(f"{root} holds no class folders (expected an ImageFolder tree: {root}/<class>/<image>)")
    own = label_set is not None and not label_set.is_imagenet  # a model of its own classes
    known = label_set.folder_index if label_set is not None else SYNSET_INDEX
    mapped, skipped = {}, []
    for folder in folders:
        if folder in label_map:
            mapped[folder] = label_map[folder]
        elif folder in known:
            mapped[folder] = known[folder]
        elif own:
            skipped.append(Skipped(folder, "no label: not a class of the model and not in the label map"))
        elif SYNSET_PATTERN.fullmatch(folder):
            skipped.append(Skipped(folder, "unknown synset: not one of the 1000 ImageNet-1k classes"))
        else:
            skipped.append(Skipped(folder, "no label: not an ImageNet synset and not in the label map"))
    if not mapped:
        some = f"{', '.join(folders[:5])}{', …' if len(folders) > 5 else ''}"
        how = (
            f"name folders by the model's classes ({', '.join(label_set.names[:5])}, …)"
            if own
            else ("name folders by ImageNet synset")
        )
        raise DataError(f"no class folder of {root} maps to a class index ({some}): {how} or pass --labels LABELS.json")
    samples = tuple(
        Sample(path, relpath, label, folder)
        for folder, label in sorted(mapped.items())
        for path, relpath in walk.files(root / folder, is_image)
    )
    present = {s.folder for s in samples}
    skipped += [Skipped(f, "empty: no image file") for f in mapped if f not in present]
    if not samples:
        raise DataError(f"no image files under {root} (extensions {', '.join(IMG_EXTENSIONS)})")
    folders_skipped = tuple(sorted(skipped, key=lambda s: s.name))
    return Dataset(root, "imagefolder", samples, folders_skipped, len(samples), tuple(walk.skipped))


def is_image(name: str) -> bool:
    return has_file_allowed_extension(name, IMG_EXTENSIONS)


def _imagenet_val(root: Path, ground_truth: Path) -> Dataset:
    """A flat folder of validation images with LOC_val_solution.csv; ordered as ImageFolder orders valprep.sh's tree."""
    synsets = _read_loc_solution(ground_truth)
    walk = TreeWalk(root)
    samples, unlabelled = [], []
    for path in sorted(root.iterdir()):
        if not is_image(path.name) or path.is_dir() or not walk.regular(path, path.name):
            continue
        synset = synsets.get(path.stem)
        if synset is None:
            unlabelled.append(path.name)
        else:
            samples.append(Sample(path, path.name, SYNSET_INDEX[synset], synset))
    if not samples:
        raise DataError(f"no image of {root} is listed in {ground_truth}")
    samples.sort(key=lambda s: (s.folder, s.relpath))
    skipped = (Skipped(f"{len(unlabelled)} files", f"not in {ground_truth.name}: {unlabelled[:5]}"),)
    folders_skipped = skipped if unlabelled else ()
    return Dataset(root, "imagenet-val", tuple(samples), folders_skipped, len(samples), tuple(walk.skipped))


def _read_loc_solution(path: Path) -> dict[str, str]:
    """ImageId -> synset from LOC_val_solution.csv (the first token of PredictionString is the synset)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise DataError(f"cannot read the ground truth {path}: {error.strerror}") from None
    if lines and lines[0].strip().isdigit():
        raise DataError(
            f"{path} looks like the devkit's ILSVRC2012_validation_ground_truth.txt, whose numbers are ILSVRC ids, "
            "not class indices: pass LOC_val_solution.csv, or move the images into synset folders (valprep.sh)"
        )
    if not lines or lines[0].strip() != LOC_HEADER:
        raise DataError(f"{path} is not LOC_val_solution.csv (its first line must be {LOC_HEADER!r})")
    synsets = {}
    for number, line in enumerate(lines[1:], start=2):
        image_id, _, prediction = line.partition(",")
        synset = prediction.split(" ", 1)[0]
        if synset not in SYNSET_INDEX:
            raise DataError(f"{path} line {number}: {synset!r} is not an ImageNet-1k synset")
        synsets[image_id.strip()] = synset
    return synsets
