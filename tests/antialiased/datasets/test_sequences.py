"""Which layout a folder of sequences is read in (`discover_sequences`): ImageNet-P's only when every folder of the
root is named as a perturbation or when asked (`layout`), so that sequence folders called `snow` or `rotate` stay
sequences; what is skipped says why; the kind says what was found (frames, videos, both, ImageNet-P)."""

from __future__ import annotations

from pathlib import Path

import pytest

from antialiased.datasets import DataError, discover_sequences
from tests.support import videos
from tests.support.datasets import write_image


def _frames(folder: Path, count: int = 3) -> None:
    for k in range(count):
        write_image(folder / f"{k:02d}.png", (40 * k, 20, 200))


def _video(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(videos.mp4(videos.moving_square(3, side=32)))


def _reasons(dataset) -> dict[str, str]:
    return {s.name: s.reason for s in dataset.skipped_folders}


def test_sequence_folders_named_like_perturbations_stay_sequences(tmp_path: Path) -> None:
    for folder in ("snow", "rotate", "street"):
        _frames(tmp_path / "clips" / folder)
    dataset = discover_sequences(tmp_path / "clips")
    assert dataset.kind == "sequences" and dataset.skipped_folders == ()
    assert [s.relpath for s in dataset.samples] == ["rotate", "snow", "street"]
    assert {s.sequence.perturbation for s in dataset.samples} == {""}, "the root's name is no perturbation"


def test_imagenet_p_when_every_folder_is_a_perturbation(tmp_path: Path) -> None:
    root = tmp_path / "ImageNet-P"
    _video(root / "translate" / "n01440764" / "a.mp4")
    _video(root / "gaussian_noise_2" / "n01440764" / "b.mp4")
    dataset = discover_sequences(root)
    assert dataset.kind == "imagenet-p" and dataset.skipped_folders == ()
    plans = {s.relpath: s.sequence for s in dataset.samples}
    assert [(p.perturbation, p.noise, p.difficulties) for p in plans.values()] == [
        ("gaussian_noise_2", True, (2,)),
        ("translate", False, (1, 2, 3)),
    ]
    # A folder of its own beside the perturbations: read as sequence folders, unless the layout is asked for
    (root / "notes").mkdir()
    with pytest.raises(DataError) as refused:
        discover_sequences(root)
    assert "--layout imagenet-p" in str(refused.value) and "notes: not one" in str(refused.value)
    asked = discover_sequences(root, layout="imagenet-p")
    assert asked.kind == "imagenet-p" and [s.relpath for s in asked.samples] == list(plans)
    assert _reasons(asked) == {"notes": "not an ImageNet-P perturbation (--layout imagenet-p reads those only)"}


def test_the_folders_layout_reads_no_perturbation(tmp_path: Path) -> None:
    root = tmp_path / "ImageNet-P"
    _video(root / "translate" / "n01440764" / "a.mp4")
    _video(root / "translate" / "n01443537" / "b.mp4")
    with pytest.raises(DataError) as refused:
        discover_sequences(root, layout="folders")
    assert "--layout folders reads none" in str(refused.value)
    # One perturbation's folder as the root: its name says the perturbation, unless the layout is folders
    single = discover_sequences(root / "translate")
    assert single.kind == "videos" and {s.sequence.perturbation for s in single.samples} == {"translate"}
    plain = discover_sequences(root / "translate", layout="folders")
    assert [s.relpath for s in plain.samples] == [s.relpath for s in single.samples]
    assert {s.sequence.perturbation for s in plain.samples} == {""}


def test_a_root_of_frame_folders_and_video_folders_is_reported_as_both(tmp_path: Path) -> None:
    _frames(tmp_path / "mixed" / "frames")
    _video(tmp_path / "mixed" / "videos" / "a.mp4")
    dataset = discover_sequences(tmp_path / "mixed")
    assert dataset.kind == "sequences+videos" and [s.relpath for s in dataset.samples] == ["frames", "videos/a.mp4"]
    assert discover_sequences(tmp_path / "mixed", layout="folders").kind == "sequences+videos"
    only_videos = tmp_path / "only"
    _video(only_videos / "videos" / "a.mp4")
    assert discover_sequences(only_videos).kind == "videos"


def test_a_bad_layout_is_refused_with_a_message(tmp_path: Path) -> None:
    _frames(tmp_path / "clips" / "street")
    with pytest.raises(DataError, match="unknown layout 'imagenet'"):
        discover_sequences(tmp_path / "clips", layout="imagenet")
    with pytest.raises(DataError, match=r"no folder of .* is named as an ImageNet-P perturbation"):
        discover_sequences(tmp_path / "clips", layout="imagenet-p")
