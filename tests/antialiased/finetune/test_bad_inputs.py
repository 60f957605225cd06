"""Each bad input is a clear error before training (status 2, one line) or a listed skip: an unknown architecture,
a registry name given with --weights (a registry entry spelled like a torchvision architecture), a baseline
checkpoint of another architecture, an empty or unlabelled data folder, corrupt images, a resume of
other settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from antialiased.finetune.cli import main
from antialiased.finetune.network import build_model
from antialiased.finetune.output import REGISTRY_FILE, write_output
from antialiased.finetune.state import STATE_FILE
from antialiased.models import create_model
from antialiased.weights.registry import REGISTRY_ENV
from tests.support.finetune import NAME, baseline_checkpoint, finetune_args, small_data, step_losses


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inputs")
    return small_data(root / "data"), baseline_checkpoint(root / "baseline")


def _error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_unknown_architecture(inputs, tmp_path, capsys) -> None:
    args = finetune_args(*inputs, tmp_path)
    args[1] = "resnet81"
    assert "not a registry name nor a torchvision architecture; did you mean resnet18" in _error(args, capsys)


def test_a_registry_name_spelled_like_an_architecture(inputs, tmp_path, capsys, monkeypatch) -> None:
    write_output(create_model("resnet18"), tmp_path, "resnet18", "resnet18", 4, 1000, None)  # a run --name resnet18
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / REGISTRY_FILE))
    error = _error(finetune_args(*inputs, tmp_path), capsys)  # --model resnet18 --weights baseline
    assert "'resnet18' is a registry name" in error and "write --model torchvision:resnet18" in error
    assert build_model("torchvision:resnet18", str(inputs[1]), 4, None, 64).arch == "resnet18"


def test_a_baseline_of_another_architecture(inputs, tmp_path, capsys) -> None:
    data, _ = inputs
    other = baseline_checkpoint(tmp_path / "other", "resnet34")
    error = _error(finetune_args(data, other, tmp_path), capsys)
    assert "not a state_dict of torchvision's resnet18" in error and "unexpected" in error


def test_an_empty_folder(inputs, tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert "holds no class folders" in _error(finetune_args(tmp_path / "empty", inputs[1], tmp_path), capsys)


def test_an_unlabelled_folder(inputs, tmp_path, capsys) -> None:
    shutil.copytree(inputs[0] / "n01440764", tmp_path / "data" / "fish")
    error = _error(finetune_args(tmp_path / "data", inputs[1], tmp_path), capsys)
    assert "maps to a class index" in error and "--labels" in error


def test_corrupt_images_are_skipped_and_listed(inputs, tmp_path) -> None:
    data = shutil.copytree(inputs[0], tmp_path / "data")
    (data / "n01440764" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (data / "n02123045" / "empty.png").write_bytes(b"")
    assert main(finetune_args(data, inputs[1], tmp_path / "out", "--epochs", "1", "--batch-size", "11")) == 0
    listed = (tmp_path / "out" / NAME / "unreadable.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in listed] == ["n01440764/broken.jpg", "n02123045/empty.png"]
    assert len(step_losses(tmp_path / "out")) == 2


def test_a_resume_with_other_settings(inputs, tmp_path, capsys) -> None:
    args = finetune_args(*inputs, tmp_path, "--epochs", "1", "--max-steps", "1")
    assert main(args) == 0
    error = _error([*args, "--lr", "0.1"], capsys)
    assert "holds a run of other settings (lr: 0.05 -> 0.1)" in error and "--overwrite" in error
    assert (tmp_path / NAME / STATE_FILE).is_file(), "the run is kept"
    assert main([*args, "--lr", "0.1", "--overwrite"]) == 0
