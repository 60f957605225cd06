"""Which sequences the sequence measure scores (`--sequences DIR`): folders of frames, video files, or ImageNet-P.

- Frames: each folder of the root that holds image files is one sequence, its frames those files in name order
  (sorted as strings: number frames with zeros in front, as ffmpeg's `frame%02d.png` does).
- Videos: each folder of the root that holds video files (MP4, MOV, MKV, WebM, GIF) gives one sequence per file, in
  name order (`DIR/<class>/<video>.mp4`: one perturbation folder of ImageNet-P, e.g. `ImageNet-P/translate`, whose
  name then says which perturbation it is).
- ImageNet-P: a root whose folders are ImageNet-P's perturbations (`translate`, `gaussian_noise`,
  `gaussian_noise_2`...: `antialiased.sequences.imagenet_p`), each holding class folders of videos; other folders
  are skipped and listed.
Sequences need no labels (frames are compared with each other, not with a true class): their label is `NO_LABEL`.
Under the walk's file rules (`files`), a frame folder that is empty, has one frame, more than the sequence limit's
frames, or a frame the walk skips (a FIFO, a broken link, a second name of a file: the frames left would not be
consecutive) is skipped and listed, with the reason; so is a folder holding both frames and videos. A video's frames
are counted when it is decoded (`antialiased.sequences.video`, within the same limits).
"""

from __future__ import annotations

import os
from pathlib import Path

from antialiased.datasets.files import Skipped, TreeWalk
from antialiased.datasets.folders import NO_LABEL, DataError, Dataset, Sample, is_image, warn_skipped
from antialiased.sequences import MIN_FRAMES, SequenceLimits
from antialiased.sequences.imagenet_p import SequencePlan, perturbation_of

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".gif")
SEQUENCE_LIMITS = SequenceLimits()  # as many frames as the probe service and antialiased.probe_sequence take


def is_video(name: str) -> bool:
    return name.lower().endswith(VIDEO_EXTENSIONS)


def discover_sequences(root: str | os.PathLike, limits: SequenceLimits = SEQUENCE_LIMITS) -> Dataset:
    """The sequences under `root` (see the module docstring), in name order."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--sequences {root} is not a directory")
    folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    if not folders:
        raise DataError(
            f"{root} holds no sequence folders (expected {root}/<sequence>/<frame>: the frames of each sequence in a "
            f"folder of their own, in name order; or {root}/<folder>/<video>; or ImageNet-P's <perturbation> folders)"
        )
    walk = TreeWalk(root)
    if any(perturbation_of(folder) for folder in folders):
        samples, kind = _imagenet_p(root, folders, walk), "imagenet-p"
        skipped = [Skipped(f, "not an ImageNet-P perturbation") for f in folders if not perturbation_of(f)]
    else:
        samples, skipped = _folders(root, folders, walk, limits)
        kind = "sequences" if any(s.frames for s in samples) else "videos"
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
    root: Path, folders: list[str], walk: TreeWalk, limits: SequenceLimits
) -> tuple[list[Sample], list[Skipped]]:
    """A frame sequence per folder of frames, a sequence per video of a folder of videos; what is skipped."""
    video_plan = SequencePlan(perturbation=root.name if perturbation_of(root.name) else "")
    samples, skipped = [], []
    for folder in folders:
        before = len(walk.skipped)
        files = walk.files(root / folder, lambda name: is_image(name) or is_video(name), recursive=False)
        frames = [path for path, _ in files if is_image(path.name)]
        videos = [(path, relpath) for path, relpath in files if is_video(path.name)]
        # The folder itself not listed (a link cycle, a second link), or a frame that is not read: not the sequence
        broken = [s for s in walk.skipped[before:] if s.name == folder or is_image(s.name)]
        if videos and frames:
            skipped.append(Skipped(folder, "holds both frames and videos: put each sequence in a folder of its own"))
        elif videos:
            samples += [Sample(path, relpath, NO_LABEL, folder, sequence=video_plan) for path, relpath in videos]
        elif broken:
            more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            why = (
                "its folder is not listed"
                if broken[0].name == folder
                else "a frame is not read: the rest would not be consecutive"
            )
            skipped.append(Skipped(folder, f"{why}: {broken[0].name}: {broken[0].reason}{more}"))
        elif not frames:
            skipped.append(Skipped(folder, "empty: no image or video file"))
        elif len(frames) < MIN_FRAMES:
            skipped.append(Skipped(folder, f"one frame: a sequence needs at least {MIN_FRAMES}"))
        elif len(frames) > limits.max_frames:
            skipped.append(Skipped(folder, f"{len(frames)} frames: more than the limit, {limits.max_frames}"))
        else:
            plan = SequencePlan(frames=len(frames))
            samples.append(Sample(root / folder, folder, NO_LABEL, folder, tuple(frames), plan))
    return samples, skipped
