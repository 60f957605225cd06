"""The archive build refuses what a worker could not serve, before any worker starts (`python -m archives.build`
exits 2 with one line naming the problem, and writes no archive): hostile or wrong `.pt2` programs, a label set of
another size than the model's outputs, a missing label file, a program that is missing (it has no random stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from antialiased.command_line import USAGE_ERROR
from antialiased.models import create_model
from antialiased.weights import save_checkpoint, sha256_file
from antialiased.weights.registry import REGISTRY_ENV
from archives.build import main as build_main
from tests.support.programs import (
    Features,
    PooledClassifier,
    export_small,
    marker_guard,
    program_file,
    rewritten,
    saved_program,
)

pytestmark = pytest.mark.serving


def _register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: Path, **fields) -> None:
    entry = {"name": "mine", "url": path.name, "sha256_prefix": sha256_file(path), "arch": "x", "filter_size": None,
             "format": "pt2", **fields}  # fmt: skip
    registry = path.parent / "registry.json"
    registry.write_text(json.dumps([entry]))
    monkeypatch.setenv(REGISTRY_ENV, str(registry))


def _refused(tmp_path: Path, capsys: pytest.CaptureFixture, *options: str) -> str:
    store = tmp_path / "store"
    args = ["--model", "served=mine", "--store", str(store), "--weights-dir", str(tmp_path / "cache"), *options]
    assert build_main(args) == USAGE_ERROR
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    assert not list(store.glob("*.mar")), "no archive written"
    return error


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return program_file(export_small(tmp_path_factory.mktemp("program"))[1], "small")


def _labels(folder: Path, count: int) -> str:
    (folder / "labels.json").write_text(json.dumps([f"class {index}" for index in range(count)]))
    return "labels.json"


def test_a_hostile_program_is_refused_and_its_guard_never_runs(program: Path, tmp_path: Path, monkeypatch, capsys):
    marker = tmp_path / "ran"
    hostile = rewritten(program, tmp_path / "hostile.pt2", marker_guard(marker))
    _register(tmp_path, monkeypatch, hostile, num_classes=3, labels=_labels(tmp_path, 3))
    assert "hostile.pt2 is refused: a guard holds" in _refused(tmp_path, capsys)
    assert not marker.exists()


def test_a_label_set_of_another_size_than_the_program(program: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    copy = tmp_path / program.name
    copy.write_bytes(program.read_bytes())
    _register(tmp_path, monkeypatch, copy, num_classes=4, labels=_labels(tmp_path, 4))
    assert f"{copy} outputs 3 classes, mine names 4" in _refused(tmp_path, capsys)


@pytest.mark.parametrize(
    ("module", "dynamic", "expected"),
    [
        (PooledClassifier(1000), False, "was exported for a fixed batch size of 2"),
        (Features(), True, "not one (batch, classes) tensor"),
    ],
)
def test_programs_that_are_not_batch_classifiers(tmp_path, monkeypatch, capsys, module, dynamic, expected) -> None:
    _register(tmp_path, monkeypatch, saved_program(module, tmp_path / "program.pt2", dynamic))
    assert expected in _refused(tmp_path, capsys)


def test_a_checkpoint_registered_as_a_program(tmp_path: Path, monkeypatch, capsys) -> None:
    checkpoint = save_checkpoint({"w": torch.zeros(2)}, tmp_path, "weights")
    path = checkpoint.rename(checkpoint.with_suffix(".pt2"))
    _register(tmp_path, monkeypatch, path)
    assert "a checkpoint written by torch.save, not an exported program" in _refused(tmp_path, capsys)


def test_a_checkpoint_of_other_classes_than_its_label_set(tmp_path: Path, monkeypatch, capsys) -> None:
    path = save_checkpoint(create_model("resnet18", 4), tmp_path, "resnet18_imagenet")  # 1000 classes
    _register(tmp_path, monkeypatch, path, arch="resnet18", filter_size=4, format="state_dict",
              labels=_labels(tmp_path, 3))  # fmt: skip
    assert "fc.weight (1000, 512) vs (3, 512)" in _refused(tmp_path, capsys)


def test_a_missing_label_file(program: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    copy = tmp_path / program.name
    copy.write_bytes(program.read_bytes())
    _register(tmp_path, monkeypatch, copy, labels="gone.json")
    assert f"label set {tmp_path / 'gone.json'} does not exist" in _refused(tmp_path, capsys)


def test_a_missing_program_has_no_random_stand_in(program: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    copy = tmp_path / program.name
    copy.write_bytes(program.read_bytes())
    _register(tmp_path, monkeypatch, copy, num_classes=3, labels=_labels(tmp_path, 3))
    copy.unlink()
    error = _refused(tmp_path, capsys, "--untrained-fallback")
    assert f"cannot download mine from {copy.as_uri()}" in error and "No such file" in error
