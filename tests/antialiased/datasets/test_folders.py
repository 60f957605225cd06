"""Data discovery: ImageFolder order and ImageNet labels, label maps, skipped folders, validation folders, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from torchvision.datasets import ImageFolder

from antialiased.datasets import DataError, discover, load_label_map
from antialiased.label_sets import MAX_FILE_BYTES
from antialiased.labels import SYNSET_INDEX
from tests.support.datasets import PHOTO_SYNSETS, write_image


def test_synset_folders_map_to_imagenet_indices_in_imagefolder_order(photo_folder: Path) -> None:
    dataset = discover(photo_folder)
    reference = ImageFolder(str(photo_folder))  # the paper's loader: the same images, in the same order
    assert [s.path for s in dataset.samples] == [Path(p) for p, _ in reference.samples]
    assert {s.folder: s.label for s in dataset.samples} == {f: SYNSET_INDEX[f] for f in PHOTO_SYNSETS}
    assert dataset.skipped_folders == ()
    assert dataset.class_name(SYNSET_INDEX["n02123045"]) == "n02123045 (tabby)"


def test_other_folders_need_a_label_map_and_unmapped_ones_are_listed(tmp_path: Path) -> None:
    for folder in ("cats", "dogs", "n02123045", "n99999999", "empty_but_mapped"):
        (tmp_path / folder).mkdir()
    for folder in ("cats", "dogs", "n02123045", "n99999999"):
        write_image(tmp_path / folder / "a.png")
    labels = tmp_path.parent / "labels.json"
    labels.write_text(json.dumps({"cats": 3, "empty_but_mapped": 1, "unused": "n01440764"}))
    dataset = discover(tmp_path, label_map=load_label_map(labels))
    assert {s.folder: s.label for s in dataset.samples} == {"cats": 3, "n02123045": SYNSET_INDEX["n02123045"]}
    reasons = {s.name: s.reason for s in dataset.skipped_folders}
    assert reasons.keys() == {"dogs", "n99999999", "empty_but_mapped"}
    assert "no label" in reasons["dogs"] and "unknown synset" in reasons["n99999999"]
    assert "empty" in reasons["empty_but_mapped"]


def test_data_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a directory"):
        discover(tmp_path / "missing")
    with pytest.raises(DataError, match="no class folders"):
        discover(tmp_path)
    (tmp_path / "cats").mkdir()
    write_image(tmp_path / "cats" / "a.png")
    with pytest.raises(DataError, match="pass --labels"):
        discover(tmp_path)
    (tmp_path / "n02123045").mkdir()
    (tmp_path / "n02123045" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="no image files"):
        discover(tmp_path)
    bad_map = tmp_path.parent / "bad.json"
    bad_map.write_text(json.dumps({"cats": "kitten"}))
    with pytest.raises(DataError, match="neither a class index"):
        load_label_map(bad_map)


@pytest.mark.parametrize(
    ("label_map", "problem"),
    [
        (
            lambda tmp: (os.mkfifo(tmp / "fifo.json"), tmp / "fifo.json")[1],
            "cannot be read: not a regular file: a FIFO",
        ),
        (lambda tmp: _padded_map(tmp / "huge.json"), f"cannot be read: larger than {MAX_FILE_BYTES} bytes"),
        (lambda tmp: tmp / "absent.json", "does not exist"),
        (lambda tmp: (tmp / "deep.json", (tmp / "deep.json").write_text("[" * 100_000))[0], "is not readable JSON"),
    ],
    ids=["fifo", "huge", "absent", "nested"],
)
def test_a_label_map_that_is_no_small_json_file_is_refused_at_once(label_map, problem, tmp_path: Path) -> None:
    path = label_map(tmp_path)
    with pytest.raises(DataError) as refused:
        load_label_map(path)
    assert str(refused.value).startswith(f"the label map {path} {problem}")


def _padded_map(path: Path) -> Path:
    """A valid label map one byte over the bound: whitespace after the object."""
    text = json.dumps({"cats": 3})
    path.write_text(text + " " * (MAX_FILE_BYTES + 1 - len(text)))
    return path


def test_imagenet_validation_folder_with_loc_solution(tmp_path: Path) -> None:
    val = tmp_path / "val"
    for name in ("ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002", "ILSVRC2012_val_00000003", "stray"):
        write_image(val / f"{name}.JPEG")
    solution = tmp_path / "LOC_val_solution.csv"
    solution.write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000001,n02123045 1 2 3 4 \n"
        "ILSVRC2012_val_00000002,n01440764 5 6 7 8 n01440764 1 1 2 2\n"
        "ILSVRC2012_val_00000003,n02123045 1 2 3 4\n"
    )
    dataset = discover(val, ground_truth=solution)
    # valprep.sh + ImageFolder order: by synset, then by file name
    assert [(s.relpath, s.label) for s in dataset.samples] == [
        ("ILSVRC2012_val_00000002.JPEG", SYNSET_INDEX["n01440764"]),
        ("ILSVRC2012_val_00000001.JPEG", SYNSET_INDEX["n02123045"]),
        ("ILSVRC2012_val_00000003.JPEG", SYNSET_INDEX["n02123045"]),
    ]
    assert "stray.JPEG" in dataset.skipped_folders[0].reason
    devkit = tmp_path / "ILSVRC2012_validation_ground_truth.txt"
    devkit.write_text("490\n361\n171\n")
    with pytest.raises(DataError, match="ILSVRC ids, not class indices"):
        discover(val, ground_truth=devkit)


def test_fingerprint_and_limit(photo_folder: Path, tmp_path: Path) -> None:
    dataset = discover(photo_folder)
    assert dataset.fingerprint.files == 200
    assert dataset.fingerprint == discover(photo_folder).fingerprint
    limited = dataset.limited(10)
    assert len(limited.samples) == 10 and len({s.folder for s in limited.samples}) == 5, "every class keeps its share"
    assert limited.fingerprint != dataset.fingerprint
    copy = tmp_path / "copy"
    write_image(copy / "n01440764" / "a.png")
    before = discover(copy).fingerprint
    write_image(copy / "n01440764" / "b.png")
    assert discover(copy).fingerprint != before
