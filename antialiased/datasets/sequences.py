"""Which sequences the sequence measure scores (`--sequences DIR`): folders of frames, video files, or ImageNet-P.

The layout (`layout`, the command line's `--layout`):
- `imagenet-p`: ImageNet-P's, `DIR/<perturbation>/<class folder>/<video>` (`translate`, `gaussian_noise`,
  `gaussian_noise_2`...: `antialiased.sequences.imagenet_p`); every video of every perturbation folder, in order;
  a folder not named as a perturbation is skipped and listed.
- `folders`: each folder of DIR is a sequence of frames or a folder of videos:
  - frames: a folder that holds image files is one sequence, its frames those files in name order (sorted as
    strings: number frames with zeros in front, as ffmpeg's `frame%02d.png` does);
  - videos: a folder that holds video files (MP4, MOV, MKV, WebM, GIF) gives one sequence per file, in name order
    (`DIR/<class>/<video>.mp4`, e.g. one perturbation folder of ImageNet-P, `ImageNet-P/translate`).
  Plain sequences, whatever their names.
- `auto` (the default): `imagenet-p` when every folder of DIR is named as a perturbation, else `folders`, where DIR
  itself named as a perturbation (`ImageNet-P/translate`) makes its sequences that perturbation's. So a sequence
  folder that happens to be called `snow` never switches the layout, and an ImageNet-P copy with a folder of its own
  beside the perturbations needs `--layout imagenet-p` (read as sequence folders, its perturbation folders are
  skipped with a reason that says so).
The data set's kind says what was found: "imagenet-p", "sequences" (folders of frames), "videos", or
"sequences+videos" (both kinds of folders).
Sequences need no labels (frames are compared with each other, not with a true class): their label is `NO_LABEL`.
Under the walk's file rules (`files`), a frame folder that is empty, has one frame, more than the sequence limit's
frames, or a frame the walk skips (a FIFO, a broken link, a second name of a file: the frames left would not be
consecutive) is skipped and listed, with the reason; so is a folder holding both frames and videos. A video's frames
are counted when it is decoded (`antialiased.sequences.video`, within the same limits).
"""

from __future__ import annotations

import os
from pathlib import Path

from antialiased.datasets.files import NESTED_FOLDER, Skipped, TreeWalk
from antialiased.datasets.folders import NO_LABEL, DataError, Dataset, Sample, is_image, warn_skipped
from antialiased.sequences import MIN_FRAMES, SequenceLimits
from antialiased.sequences.imagenet_p import SequencePlan, perturbation_of

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".gif")
SEQUENCE_LIMITS = SequenceLimits()  # as many frames as the probe service and antialiased.probe_sequence take
LAYOUTS = ("auto", "imagenet-p", "folders")
IMAGENET_P, FRAMES, VIDEOS, FRAMES_AND_VIDEOS = "imagenet-p", "sequences", "videos", "sequences+videos"  # kinds


def is_video(name: str) -> bool:
    return name.lower().endswith(VIDEO_EXTENSIONS)


def discover_sequences(
    root: str | os.PathLike, limits: SequenceLimits = SEQUENCE_LIMITS, layout: str = "auto"
) -> Dataset:
    """The sequences under `root` in `layout` (see the module docstring), in name order."""
    root = Path(root)
    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise DataError(f"--sequences {root} is not a directory")
    folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    if not folders:
        raise DataError(
            f"{root} holds no sequence folders (expected {root}/<sequence>/<frame>: the frames of each sequence in a "
            f"folder of their own, in name order; or {root}/<folder>/<video>; or ImageNet-P's <perturbation> folders)"
        )
    walk = TreeWalk(root)
    others = [folder for folder in folders if not perturbation_of(folder)]
    if layout == IMAGENET_P and len(others) == len(folders):
        raise DataError(
            f"--layout imagenet-p: no folder of {root} is named as an ImageNet-P perturbation (translate, "
            "gaussian_noise, gaussian_noise_2, ...); a single perturbation's folder is read with --layout auto"
        )
    if layout == IMAGENET_P or (layout == "auto" and not others):
        samples, kind = _imagenet_p(root, folders, walk), IMAGENET_P
        skipped = [Skipped(f, "not an ImageNet-P perturbation (--layout imagenet-p reads those only)") for f in others]
    else:
        samples, skipped = _folders(root, folders, walk, limits, others if layout == "auto" else None)
        kinds = {bool(sample.frames) for sample in samples}
        kind = FRAMES_AND_VIDEOS if len(kinds) == 2 else FRAMES if True in kinds else VIDEOS
    if not samples:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:3]) or "no frames or videos"
        raise DataError(f"no sequence of {root} can be scored ({reasons}{', …' if len(skipped) > 3 else ''})")
    dataset = Dataset(root, kind, tuple(samples), tuple(skipped), len(samples), tuple(walk.skipped))
    warn_skipped(dataset)
    return dataset


def _imagenet_p(root: Path, folders: list[str], walk: TreeWalk) -> list[Sample]:
    """Every video of every perturbation folder (its class folders, in order)."""
    samples = []
    for folder in folders:
        if perturbation_of(folder):
            plan = SequencePlan(perturbation=folder)
            for path, relpath in walk.files(root / folder, is_video):
                samples.append(Sample(path, relpath, NO_LABEL, path.parent.name, sequence=plan))
    return samples


def _folders(
    root: Path, folders: list[str], walk: TreeWalk, limits: SequenceLimits, not_perturbations: list[str] | None
) -> tuple[list[Sample], list[Skipped]]:
    """A frame sequence per folder of frames, a sequence per video of a folder of videos; what is skipped.
    `not_perturbations`: in the auto layout, the folders that kept it from being ImageNet-P's."""
    perturbation = root.name if not_perturbations is not None and perturbation_of(root.name) else ""
    samples, skipped = [], []
    for folder in folders:
        before = len(walk.skipped)
        files = walk.files(root / folder, lambda name: is_image(name) or is_video(name), recursive=False)
        frames = [path for path, _ in files if is_image(path.name)]
        videos = [(path, relpath) for path, relpath in files if is_video(path.name)]
        # The folder itself not listed (a link cycle, a second link), or a frame that is not read: not the sequence
        broken = [s for s in walk.skipped[before:] if s.name == folder or is_image(s.name)]
        nested = any(s.reason == NESTED_FOLDER for s in walk.skipped[before:])
        if videos and frames:
            skipped.append(Skipped(folder, "holds both frames and videos: put each sequence in a folder of its own"))
        elif videos:
            plan = SequencePlan(perturbation=perturbation)
            samples += [Sample(path, relpath, NO_LABEL, folder, sequence=plan) for path, relpath in videos]
        elif broken:
            more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            why = (
                "its folder is not listed"
                if broken[0].name == folder
                else "a frame is not read: the rest would not be consecutive"
            )
            skipped.append(Skipped(folder, f"{why}: {broken[0].name}: {broken[0].reason}{more}"))
        elif not frames:
            skipped.append(Skipped(folder, _empty(folder, nested, not_perturbations)))
        elif len(frames) < MIN_FRAMES:
            skipped.append(Skipped(folder, f"one frame: a sequence needs at least {MIN_FRAMES}"))
        elif len(frames) > limits.max_frames:
            skipped.append(Skipped(folder, f"{len(frames)} frames: more than the limit, {limits.max_frames}"))
        else:
            plan = SequencePlan(frames=len(frames), perturbation=perturbation)
            samples.append(Sample(root / folder, folder, NO_LABEL, folder, tuple(frames), plan))
    return samples, skipped


def _empty(folder: str, nested: bool, not_perturbations: list[str] | None) -> str:
    """Why a folder without frames or videos of its own is skipped; named as a perturbation and holding folders,
    why it was not read as ImageNet-P's."""
    if not nested:
        return "empty: no image or video file"
    reason = "only folders in it, no frames or videos (a sequence's lie in its own folder)"
    if perturbation_of(folder) is None:
        return reason
    if not_perturbations is None:
        return f"{reason}; named as an ImageNet-P perturbation: --layout folders reads none"
    named = ", ".join(not_perturbations[:3]) + (", …" if len(not_perturbations) > 3 else "")
    return (
        f"{reason}; named as an ImageNet-P perturbation: its folders are read as ImageNet-P's when every folder of "
        f"the root is a perturbation ({named}: not one), or with --layout imagenet-p"
    )
