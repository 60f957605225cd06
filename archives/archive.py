"""Build one TorchServe model archive (.mar): handler, library code, weights and model-config.yaml.

The archive is self-contained: it ships the `antialiased` library (its data files included) and the
`handlers` package next to the handler entry point, so a worker needs only the packages of
requirements.txt installed, and serves exactly the code the archive was built from (`make run`, the tests
and a Docker image alike). TorchServe puts the unpacked archive first on the worker's PYTHONPATH.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

import antialiased
import handlers
from antialiased.imagefile import MAX_PIXELS_PER_BATCH, ImageLimits
from antialiased.preprocessing import CROP_SIZE
from antialiased.serving.contract import DEFAULT_TOPK, MAX_TOPK
from antialiased.shifts import MAX_CROP_SIZE, MAX_OFFSETS_PER_REQUEST, MAX_VIEW_PIXELS_PER_REQUEST
from antialiased.weights import sha256_file
from antialiased.weights.registry import WeightsEntry

TEMPLATE = Path(__file__).with_name("model-config.yaml")
HANDLER_ENTRY = Path(handlers.__file__).with_name("image_classifier.py")
PACKAGES = tuple(Path(package.__path__[0]) for package in (antialiased, handlers))
MODEL_VERSION = "1.0"
LABELS_FILE = "labels.json"  # the model's label set in the archive, beside the handler


class ArchiveError(RuntimeError):
    """torch-model-archiver failed; the message holds its output."""


def model_spec(entry: WeightsEntry) -> dict[str, Any]:
    """The `handler.model` section for the network that registry entry `entry`'s weights fit (a zoo architecture
    built by the library), or its exported program (loaded as it is); its label set goes into the archive as
    LABELS_FILE (see `build_archive`), unless it is ImageNet's."""
    classes = {} if entry.label_set.is_imagenet else {"num_classes": entry.classes}
    if entry.format == "pt2":
        builder, kwargs = None, {}
    elif entry.antialiased:
        builder = "antialiased.models:create_model"
        kwargs = {"arch": entry.arch, "filter_size": entry.filter_size, **classes}
    else:
        builder, kwargs = "antialiased.models:create_baseline", {"arch": entry.arch, **classes}
    return {
        "builder": builder,
        "kwargs": kwargs,
        "arch": entry.arch,
        "antialiased": entry.antialiased,
        "filter_size": entry.filter_size,
        "format": entry.format,
        "num_classes": entry.classes,
        "labels": None if entry.labels is None else LABELS_FILE,
    }


def library_limits() -> dict[str, Any]:
    """The handler limits that are the library's constants (model-config.yaml holds only the handler's own)."""
    return {
        "image": dataclasses.asdict(ImageLimits()),
        "max_offsets": MAX_OFFSETS_PER_REQUEST,  # every offset of the paper's 32-pixel range
        "max_crop_size": MAX_CROP_SIZE,  # the probe API's bound; smaller crops than the model takes are refused
        "default_topk": DEFAULT_TOPK,
        "max_topk": MAX_TOPK,
        # Views one batch may hold: a request that would exceed what is left is answered 503 overloaded (clients
        # retry), so that a batch always ends well within responseTimeout, on the CPU too. At least max_offsets.
        "max_images_per_batch": MAX_OFFSETS_PER_REQUEST,
        # Decoded pixels (read from the headers) one batch may hold: two 50-megapixel photos and room for small
        # ones. On the CPU images are decoded one after another (about 12 bytes per pixel of the largest image:
        # 600 MB at 50 MP), so this bounds a batch's decoding time; on a GPU also the batched JPEG decoding's
        # memory. Beyond it a request is answered 503 overloaded with Retry-After, undecoded.
        "max_pixels_per_batch": MAX_PIXELS_PER_BATCH,
        # View pixels (views x crop area) one batch may hold: the paper's whole 33 x 33 range at 224 x 224, 656 MB
        # of float32 views. Beyond what is left: 503 overloaded.
        "max_view_pixels_per_batch": MAX_OFFSETS_PER_REQUEST * CROP_SIZE**2,
        # View pixels one shift request may hold (beyond it: 413 at once): a larger probe comes in chunks of this
        # size one after another, so that a plain classification waits behind one chunk, not a whole probe. At most
        # max_view_pixels_per_batch; the probe service's PROBE_CHUNK_VIEW_PIXELS must not exceed it.
        "max_view_pixels_per_request": MAX_VIEW_PIXELS_PER_REQUEST,
    }


def model_config(
    model: Mapping[str, Any], weights: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """model-config.yaml as a mapping: the template, the library's limits, the model and weights sections, then
    `overrides` (merged key by key into nested mappings, e.g. {"batchSize": 4, "handler": {"device": "cpu"}})."""
    config = yaml.safe_load(TEMPLATE.read_text())
    config["handler"]["limits"] = {**library_limits(), **config["handler"]["limits"]}
    config["handler"]["model"] = dict(model)
    config["handler"]["weights"] = dict(weights)
    return _merge(config, overrides or {})


def build_archive(
    name: str,
    *,
    store: Path,
    weights_path: Path,
    model: Mapping[str, Any],
    weights_name: str | None,
    untrained: bool,
    overrides: Mapping[str, Any] | None = None,
    extra_files: Sequence[Path] = (),
    labels: Path | None = None,
) -> Path:
    """Write `<store>/<name>.mar` and return its path.

    `model` is the `handler.model` section (see `model_spec`); `extra_files` are put beside the handler
    (e.g. the module of a custom model builder), `labels` (the model's label set file) as LABELS_FILE. The weights
    file is stored as it is; its sha256 goes into model-config.yaml, and the handler refuses to start when the file
    does not match it.
    """
    weights = {"name": weights_name, "sha256": sha256_file(weights_path), "untrained": untrained}
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"archive-{name}-") as staging:
        staging = Path(staging)
        code = staging / "code"
        for package in PACKAGES:
            shutil.copytree(package, code / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for extra in extra_files:
            shutil.copy2(extra, code / Path(extra).name)
        if labels is not None:
            shutil.copy2(labels, code / LABELS_FILE)
        config_file = staging / "model-config.yaml"
        config_file.write_text(yaml.safe_dump(model_config(model, weights, overrides), sort_keys=False))
        (staging / "tmp").mkdir()
        command = [
            sys.executable,
            "-m",
            "model_archiver.model_packaging",
            "--model-name",
            name,
            "--version",
            MODEL_VERSION,
            "--handler",
            str(HANDLER_ENTRY),
            "--serialized-file",
            str(weights_path),
            "--extra-files",
            str(code),
            "--config-file",
            str(config_file),
            "--export-path",
            str(store),
            "--archive-format",
            "zip-store",  # the weights do not compress; storing them saves time at build and at load
            "--force",
        ]
        # The archiver stages files in <tmp>/<model name>: a private tmp keeps parallel builds apart.
        env = {**os.environ, "TMPDIR": str(staging / "tmp")}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ArchiveError(f"torch-model-archiver failed for {name}:\n{result.stdout}{result.stderr}")
    return store / f"{name}.mar"


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
