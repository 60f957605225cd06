"""Label sets (antialiased/label_sets.py) and the registry entries that carry them: a model's classes by index, read
from files that may be hostile, and refused at registration when they do not fit the entry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from antialiased.label_sets import (
    IMAGENET,
    MAX_FILE_BYTES,
    LabelSet,
    LabelSetError,
    label_set_text,
    parse_label_set,
    read_label_set,
)
from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.weights import RegistryError
from antialiased.weights.registry import REGISTRY_ENV, WeightsEntry, get_entry


def test_imagenet_is_the_default_names_and_synsets() -> None:
    assert IMAGENET.names == IMAGENET_CATEGORIES and len(IMAGENET) == 1000 and IMAGENET.is_imagenet
    assert IMAGENET.folder_index["n01440764"] == 0 == IMAGENET.folder_index["tench"]


def test_a_file_round_trips_names_and_ids(tmp_path: Path) -> None:
    labels = parse_label_set(["red", {"name": "tench", "id": "n01440764"}])
    path = tmp_path / "labels.json"
    path.write_text(label_set_text(labels))
    assert read_label_set(path) == labels and labels.folder_index == {"red": 0, "tench": 1, "n01440764": 1}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not readable JSON"),
        (b"\xff\xfe not utf-8", "not readable JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not readable JSON"),  # nested beyond the parser's recursion
        (b'{"red": 0}', "expected a JSON list"),
        (b"[]", "at least one class"),
        (b'["red", "green", "red"]', "classes 0 and 2 have the same name 'red'"),
        (b'[{"name": "a", "id": "x"}, {"name": "b", "id": "x"}]', "classes 0 and 1 have the same id 'x'"),
        (b'["red", ""]', "class 1: name must be a non-empty string"),
        (b'["red", 3]', "class 1: name must be a non-empty string, got 3"),
        (b'["red\\u0000green"]', "holds a control character"),
        (json.dumps(["x" * 201]).encode(), "at most 200"),
        (b'[{"name": "a", "label": "b"}]', 'expected the keys "name" and optionally "id"'),
    ],
)
def test_hostile_label_files_are_refused_naming_the_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "labels.json"
    path.write_bytes(content)
    with pytest.raises(LabelSetError) as refused:
        read_label_set(path)
    assert str(path) in str(refused.value) and expected in str(refused.value)


def test_a_label_file_beyond_the_size_limit_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: no memory, no parsing
    with pytest.raises(LabelSetError, match="larger than"):
        read_label_set(path)


def test_a_fifo_as_a_label_file_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    os.mkfifo(path)  # opened for reading, it would wait for a writer forever
    with pytest.raises(LabelSetError, match="not a regular file: a FIFO"):
        read_label_set(path)


def _entry(**fields) -> dict:
    return {"name": "mine", "url": "weights/mine-0123abcd.pth", "sha256_prefix": "0123abcd", "arch": "resnet18",
            "filter_size": 4, **fields}  # fmt: skip


def _registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **fields) -> WeightsEntry:
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps([_entry(**fields)]))
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    return get_entry("mine")


def test_an_entry_carries_its_label_set_relative_to_its_registry(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "mine.labels.json").write_text('["blue", "green", "red"]')
    entry = _registered(tmp_path, monkeypatch, num_classes=3, labels="weights/mine.labels.json")
    assert entry.label_set == LabelSet.of_names(["blue", "green", "red"]) and entry.classes == 3
    assert entry.url == (tmp_path / "weights" / "mine-0123abcd.pth").as_uri()
    assert _registered(tmp_path, monkeypatch).label_set is IMAGENET, "none named: ImageNet's, not copied"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"labels": "missing.json"}, "missing.json does not exist"),
        ({"labels": "labels.json", "num_classes": 4}, "outputs 4 classes, but its label set names 3"),
        ({"num_classes": 3}, "num_classes 3 needs the label set file that names them"),
        ({"num_classes": 0}, "num_classes 0 must be a positive integer"),
        ({"format": "onnx"}, "format 'onnx' must be one of state_dict, pt2"),
        ({"labels": 7}, "labels must be the path of a label set file"),
    ],
)
def test_entries_whose_classes_do_not_fit_are_refused_at_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict, expected: str
) -> None:
    (tmp_path / "labels.json").write_text('["blue", "green", "red"]')
    with pytest.raises(RegistryError) as refused:
        _registered(tmp_path, monkeypatch, **fields)
    assert expected in str(refused.value) and "registry.json, entry 0" in str(refused.value)
