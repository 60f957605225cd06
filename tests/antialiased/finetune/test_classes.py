"""Which classes a run trains (antialiased/finetune/classes.py): ImageNet's for synset folders, the data's own
folders in ImageFolder's order otherwise (or with --num-classes), --labels' map; the label set each gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from torchvision.datasets import ImageFolder

from antialiased.datasets import DataError
from antialiased.finetune.classes import run_classes
from antialiased.label_sets import IMAGENET
from tests.support.datasets import write_image


def _folders(root: Path, *names: str) -> Path:
    for name in names:
        write_image(root / name / "a.png")
    return root


def test_plain_folders_are_their_own_classes_as_imagefolder_orders_them(tmp_path: Path) -> None:
    data = _folders(tmp_path / "data", "red", "green", "blue")
    classes = run_classes(data, None, None)
    assert classes.label_map == ImageFolder(str(data)).class_to_idx == {"blue": 0, "green": 1, "red": 2}
    assert classes.label_set.names == ("blue", "green", "red") and classes.num_classes == 3
    assert run_classes(data, None, 3) == classes


def test_synset_folders_keep_imagenet_unless_num_classes(tmp_path: Path) -> None:
    data = _folders(tmp_path / "data", "n01443537", "n01440764")
    assert run_classes(data, None, None).label_set is IMAGENET and run_classes(data, None, None).label_map is None
    two = run_classes(data, None, 2)
    assert two.label_map == {"n01440764": 0, "n01443537": 1}
    assert [(label.name, label.id) for label in two.label_set.labels] == [
        ("tench", "n01440764"),
        ("goldfish", "n01443537"),
    ]


def test_a_label_map(tmp_path: Path) -> None:
    data = _folders(tmp_path / "data", "cat", "dog")
    onto_imagenet = tmp_path / "imagenet.json"
    onto_imagenet.write_text(json.dumps({"cat": "n02123045", "dog": 207}))
    assert run_classes(data, onto_imagenet, None).label_set is IMAGENET
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"dog": 0, "cat": 1, "kitten": 1}))
    mapped = run_classes(data, own, 2)
    assert mapped.label_map == {"dog": 0, "cat": 1, "kitten": 1} and mapped.label_set.names == ("dog", "cat")
    with pytest.raises(DataError, match="maps no folder to class 2 of the 3"):
        run_classes(data, own, 3)


def test_num_classes_must_be_the_folders(tmp_path: Path) -> None:
    data = _folders(tmp_path / "data", "red", "green")
    with pytest.raises(DataError, match=r"--num-classes 3, but .* holds 2 class folders \(green, red\)"):
        run_classes(data, None, 3)
    with pytest.raises(DataError, match="is not a directory"):
        run_classes(tmp_path / "missing", None, None)
