"""Each bad input is a clear error before training (status 2, one line) or a listed skip: an unknown architecture,
a registry name given with --weights (a registry entry spelled like a torchvision architecture), a baseline
checkpoint of another architecture, an empty data folder, classes that do not fit the data's folders, corrupt
images, a resume of other settings."""

from __future__ import annotations

import shutil

import pytest

from antialiased.finetune.cli import main
from antialiased.finetune.network import BuiltModel, build_model
from antialiased.finetune.output import write_output
from antialiased.finetune.state import STATE_FILE
from antialiased.label_sets import IMAGENET
from antialiased.models import create_model
from antialiased.weights.registry import REGISTRY_ENV
from antialiased.weights.registry_file import REGISTRY_FILE
from tests.support.finetune import NAME, baseline_checkpoint, finetune_args, step_losses


def _error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(args) == 2
    return capsys.readouterr().err


def test_unknown_architecture(inputs, tmp_path, capsys) -> None:
    args = finetune_args(*inputs, tmp_path)
    args[1] = "resnet81"
    assert "not a registry name nor a torchvision architecture; did you mean resnet18" in _error(args, capsys)


def test_a_registry_name_spelled_like_an_architecture(inputs, tmp_path, capsys, monkeypatch) -> None:
    built = BuiltModel(create_model("resnet18"), "resnet18", 4, "resnet18")
    write_output(built.network, tmp_path, "resnet18", built, IMAGENET, None)  # a run --name resnet18
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


def test_classes_that_do_not_fit_the_data(inputs, tmp_path, capsys) -> None:
    error = _error(finetune_args(*inputs, tmp_path, "--num-classes", "4"), capsys)
    assert "--num-classes 4, but" in error and "holds 5 class folders (n01440764, n02123045" in error
    data = shutil.copytree(inputs[0], tmp_path / "data")
    shutil.copytree(data / "n01440764", data / "tench")  # ImageNet's name of n01440764
    error = _error(finetune_args(data, inputs[1], tmp_path), capsys)
    assert "classes 0 and 5 have the same name 'tench'" in error


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
