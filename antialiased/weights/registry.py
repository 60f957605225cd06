"""The registry of checkpoints: every published weight file of the paper, torchvision's baseline, and yours.

Each entry is data (name, URL, sha256 prefix, architecture, filter size, how it was trained, the published
ImageNet numbers, its classes and its format). Add your own checkpoints with `register(WeightsEntry(...))` or with
a JSON file named by the environment variable ANTIALIASED_WEIGHTS_REGISTRY: a list of objects with the keys name,
url, sha256_prefix, arch, filter_size (null for a plain baseline) and optionally finetuned, accuracy, consistency,
size (the file's bytes: a download is refused past it), num_classes, labels (a label set file, see
`antialiased.label_sets`; none: ImageNet's) and format (`state_dict`: a checkpoint of the zoo's `arch`; `pt2`: an
exported program, served without its source code). In the file, a `url` without a scheme and the `labels` path are
relative to the file's folder, so a folder of outputs can move.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import MISSING, dataclass, fields
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from torch.hub import HASH_REGEX
from torchvision.models import AlexNet_Weights, ResNet50_Weights, WeightsEnum

from antialiased.data import lines
from antialiased.label_sets import IMAGENET, LabelSet, LabelSetError, check_classes, read_label_set
from antialiased.regular_files import UnreadableJson, read_json
from antialiased.weights.errors import RegistryError, UnknownWeightsError

REGISTRY_ENV = "ANTIALIASED_WEIGHTS_REGISTRY"
MAX_REGISTRY_BYTES = 4 * 1024 * 1024  # thousands of entries; the file is read at every lookup, only if regular
OFFICIAL_BASE_URL = "https://antialiased-cnns.s3.us-east-2.amazonaws.com/weights_v0.1/"
OFFICIAL_LICENSE = "CC BY-NC-SA 4.0 (non-commercial)"

# The paper's files (the reference package's `model_urls`, listed in data/paper_weights.txt); the name, filter
# size and training mode are read from the file name `<arch>_lpf<k>[_finetune]-<sha256 prefix>.pth`.
_PAPER_FILES: tuple[str, ...] = lines("paper_weights.txt")
_PAPER_NAME = re.compile(r"(?P<arch>\w+?)_lpf(?P<filter_size>\d)(?P<finetune>_finetune)?")

# Published ImageNet top-1 accuracy and shift consistency (%) from the antialiased-cnns README: its tables
# of from-scratch models (Rect-2 / Tri-3 / Tri-4 / Bin-5 = lpf2..5) and its fine-tuned ResNet-50.
_PUBLISHED = {
    "alexnet": ((57.24, 81.33), (56.90, 82.15), (56.72, 82.54), (56.58, 82.51)),
    "vgg16": ((72.15, 89.24), (72.20, 89.60), (72.43, 89.92), (72.33, 90.19)),
    "vgg16_bn": ((74.01, 90.72), (73.91, 91.10), (74.12, 91.22), (74.05, 91.35)),
    "resnet18": ((71.39, 86.90), (71.69, 87.51), (71.48, 88.07), (71.38, 88.25)),
    "resnet34": ((74.46, 89.14), (74.33, 89.32), (74.38, 89.53), (74.20, 89.49)),
    "resnet50": ((76.81, 89.96), (76.83, 90.91), (77.23, 91.29), (77.04, 91.31)),
    "resnet101": ((77.82, 91.04), (78.13, 91.62), (78.22, 91.85), (77.92, 91.74)),
    "densenet121": ((75.04, 89.53), (75.14, 89.78), (75.29, 90.29), (75.03, 90.39)),
    "mobilenet_v2": ((72.63, 87.33), (72.59, 87.46), (72.72, 87.72), (72.50, 87.79)),
}
_PUBLISHED_FINETUNED = {"resnet50": (77.41, 91.32)}
_PUBLISHED_BASELINE = {"resnet50": (76.16, 89.20)}  # torchvision's weights, as measured by the paper
FORMATS = ("state_dict", "pt2")  # a checkpoint of the zoo's `arch`; a torch.export program (`.pt2`)


@dataclass(frozen=True)
class WeightsEntry:
    """One checkpoint: where it lives, how to check it, and which model it fits.

    `filter_size` None means a plain (not antialiased) torchvision baseline. `finetuned` tells a model
    fine-tuned from the torchvision baseline from one trained from scratch. `accuracy` and
    `consistency` are the published ImageNet top-1 and shift consistency in percent, when known.
    `labels` names the label set file of its classes (read and checked against `num_classes` when the entry is
    made); `format` says whether the file is a state_dict of the zoo's `arch` or an exported program (`arch` then
    only describes it).
    """

    name: str
    url: str
    sha256_prefix: str
    arch: str
    filter_size: int | None
    finetuned: bool = False
    accuracy: float | None = None
    consistency: float | None = None
    size: int | None = None  # bytes, when known: a download is refused past it
    num_classes: int | None = None  # None: as many as its label set names (ImageNet's 1000 without one)
    labels: str | None = None  # the label set file; None: ImageNet's
    format: str = "state_dict"
    source: str = "user"

    def __post_init__(self) -> None:
        for field in ("name", "url", "sha256_prefix", "arch"):
            if not isinstance(getattr(self, field), str):
                raise RegistryError(f"{self.name}: {field} must be a string, not {getattr(self, field)!r}")
        object.__setattr__(self, "sha256_prefix", self.sha256_prefix.lower())
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", self.name):
            raise RegistryError(f"invalid weights name {self.name!r}: use letters, digits, '_', '-', '.'")
        if urlsplit(self.url).scheme not in ("http", "https", "file") or not self.file_name:
            raise RegistryError(f"{self.name}: url {self.url!r} is not an http(s) or file URL of a file")
        if not re.fullmatch(r"[0-9a-f]{8,64}", self.sha256_prefix):
            raise RegistryError(f"{self.name}: sha256_prefix {self.sha256_prefix!r} must be 8 to 64 hex digits")
        if not self.arch:
            raise RegistryError(f"{self.name}: arch is empty")
        if self.filter_size is not None and (isinstance(self.filter_size, bool) or self.filter_size not in range(1, 8)):
            raise RegistryError(f"{self.name}: filter_size {self.filter_size!r} must be 1..7, or null for a baseline")
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1):
            raise RegistryError(f"{self.name}: size {self.size!r} must be a positive number of bytes, or absent")
        if self.format not in FORMATS:
            raise RegistryError(f"{self.name}: format {self.format!r} must be one of {', '.join(FORMATS)}")
        if self.num_classes is not None and (type(self.num_classes) is not int or self.num_classes < 1):
            raise RegistryError(f"{self.name}: num_classes {self.num_classes!r} must be a positive integer")
        if self.labels is not None and not isinstance(self.labels, str):
            raise RegistryError(f"{self.name}: labels must be the path of a label set file, not {self.labels!r}")
        if self.labels is None and self.classes != len(IMAGENET):
            raise RegistryError(
                f"{self.name}: num_classes {self.classes} needs the label set file that names them (labels); "
                f"without one a model has ImageNet's {len(IMAGENET)} classes"
            )
        try:
            check_classes(self.label_set, self.classes, f"{self.name} (num_classes)")
        except LabelSetError as error:
            raise RegistryError(f"{self.name}: {error}") from None

    @cached_property
    def label_set(self) -> LabelSet:
        """The model's classes: its label set file's (read when the entry is made), or ImageNet's."""
        return IMAGENET if self.labels is None else read_label_set(self.labels)

    @property
    def classes(self) -> int:
        """How many classes the model outputs."""
        return self.num_classes if self.num_classes is not None else len(self.label_set)

    @property
    def antialiased(self) -> bool:
        """Whether the checkpoint is for an antialiased model (else a torchvision baseline)."""
        return self.filter_size is not None

    @property
    def file_name(self) -> str:
        """The file's name: the last part of its URL path, as cached on disk and looked up on a mirror."""
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    @property
    def training(self) -> str:
        """'baseline', 'finetune' or 'scratch', for listings."""
        return "baseline" if not self.antialiased else "finetune" if self.finetuned else "scratch"


def _hash_prefix_of(file_name: str) -> str:
    match = HASH_REGEX.search(file_name)
    if match is None:
        raise RegistryError(f"no hash prefix in file name {file_name!r}")
    return match.group(1)


def _paper_entry(file_name: str) -> WeightsEntry:
    name = file_name.split("-", 1)[0]
    parts = _PAPER_NAME.fullmatch(name)
    arch, filter_size, finetuned = parts["arch"], int(parts["filter_size"]), parts["finetune"] is not None
    if finetuned:
        published = _PUBLISHED_FINETUNED.get(arch)
    else:
        published = _PUBLISHED[arch][filter_size - 2] if arch in _PUBLISHED else None
    accuracy, consistency = published or (None, None)
    return WeightsEntry(
        name=name,
        url=OFFICIAL_BASE_URL + file_name,
        sha256_prefix=_hash_prefix_of(file_name),
        arch=arch,
        filter_size=filter_size,
        finetuned=finetuned,
        accuracy=accuracy,
        consistency=consistency,
        source="paper",
    )


def _baseline_entry(arch: str, weights: WeightsEnum) -> WeightsEntry:
    url = weights.url
    accuracy, consistency = _PUBLISHED_BASELINE.get(arch, (None, None))
    return WeightsEntry(
        name=f"{arch}_baseline",
        url=url,
        sha256_prefix=_hash_prefix_of(url.rsplit("/", 1)[-1]),
        arch=arch,
        filter_size=None,
        accuracy=accuracy,
        consistency=consistency,
        source="torchvision",
    )


_BUILTIN: dict[str, WeightsEntry] = {
    entry.name: entry
    for entry in [
        *map(_paper_entry, _PAPER_FILES),
        _baseline_entry("resnet50", ResNet50_Weights.IMAGENET1K_V1),
        _baseline_entry("alexnet", AlexNet_Weights.IMAGENET1K_V1),  # ImageNet-P's reference (mFR, mT5D)
    ]
}
_REGISTERED: dict[str, WeightsEntry] = {}


def register(entry: WeightsEntry, *, replace: bool = False) -> WeightsEntry:
    """Add a checkpoint of your own to the registry (built-in names cannot be replaced)."""
    if entry.name in _BUILTIN:
        raise RegistryError(f"{entry.name!r} is a built-in checkpoint; register yours under another name")
    if entry.name in _REGISTERED and not replace:
        raise RegistryError(f"{entry.name!r} is already registered; pass replace=True to replace it")
    _REGISTERED[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a checkpoint added with `register` (a no-op for unknown names)."""
    _REGISTERED.pop(name, None)


_FILE_FIELDS = {field.name for field in fields(WeightsEntry)} - {"source"}
_FILE_REQUIRED = {field.name for field in fields(WeightsEntry) if field.default is MISSING}


def _user_file_entries() -> dict[str, WeightsEntry]:
    """Entries of the JSON file named by ANTIALIASED_WEIGHTS_REGISTRY, read on every lookup (it is small)."""
    path = os.environ.get(REGISTRY_ENV)
    if not path:
        return {}
    try:
        items = read_json(path, MAX_REGISTRY_BYTES)
    except UnreadableJson as exc:
        raise RegistryError(f"{REGISTRY_ENV}={path}: the JSON registry {exc}") from None
    if not isinstance(items, list):
        raise RegistryError(f"{REGISTRY_ENV}={path}: expected a JSON list of entries")
    entries: dict[str, WeightsEntry] = {}
    for index, item in enumerate(items):
        where = f"{REGISTRY_ENV}={path}, entry {index}"
        if not isinstance(item, dict):
            raise RegistryError(f"{where}: expected an object")
        unknown, missing = set(item) - _FILE_FIELDS, _FILE_REQUIRED - set(item)
        if unknown or missing:
            raise RegistryError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        try:
            entry = WeightsEntry(**_resolved_paths(item, Path(path).parent))
        except RegistryError as exc:
            raise RegistryError(f"{where}: {exc}") from None
        if entry.name in _BUILTIN or entry.name in _REGISTERED or entry.name in entries:
            raise RegistryError(f"{where}: the name {entry.name!r} is already taken")
        entries[entry.name] = entry
    return entries


def _resolved_paths(item: dict, folder: Path) -> dict:
    """`item` with a `url` without a scheme and its `labels` path made absolute, relative to the registry's `folder`."""
    resolved = dict(item)
    url = item.get("url")
    if isinstance(url, str) and url and not urlsplit(url).scheme:
        resolved["url"] = (folder / url).resolve().as_uri()
    if isinstance(item.get("labels"), str):
        resolved["labels"] = str((folder / item["labels"]).resolve())
    return resolved


def _all_entries() -> dict[str, WeightsEntry]:
    return {**_BUILTIN, **_REGISTERED, **_user_file_entries()}


def list_entries() -> list[WeightsEntry]:
    """Every registered checkpoint, sorted by name."""
    return sorted(_all_entries().values(), key=lambda entry: entry.name)


def get_entry(name: str) -> WeightsEntry:
    """The entry called `name`; `UnknownWeightsError` lists the closest names when there is none."""
    entries = _all_entries()
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(name, entries, n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see `python -m antialiased.weights list`"
    raise UnknownWeightsError(f"unknown weights {name!r}; {hint}")
