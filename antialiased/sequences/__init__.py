"""Frame sequences: how stable predictions are from one frame to the next (ImageNet-P's protocol), torch-free.

Each frame is classified as a plain image (the shorter side resized to 256, the 224 center crop); over the
consecutive frames (k-1, k) of the sequence:

- ``flip_rate``: ImageNet-P's flip probability, the fraction of consecutive frames whose top-1 changes;
- ``mean_top5_distance``: ImageNet-P's mean top-5 distance between consecutive frames;
- ``wobble``: the mean |Δp| of the majority class (the most frequent top-1) between consecutive frames.

(Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and Perturbations",
ICLR 2019.) The probe service (`POST /v1/sequence`), the in-process `antialiased.probe_sequence` and the
evaluation's `--sequences` all score sequences with `sequence_metrics`, within `SequenceLimits`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from antialiased.errors import ApiError, ErrorCode
from antialiased.metrics import flip_probability, majority_class, mean_abs_delta, mean_top5_distance

MIN_FRAMES = 2  # a flip needs two frames
IMAGENET_P_FRAMES = 41  # the longest sequences of ImageNet-P (translate: -20..+20 pixels)
SEQUENCE_DESCRIPTION = "frames of a sequence, in order: flips from one frame to the next"


class SequenceLimits(BaseModel):
    """What an accepted sequence may be: at most `max_frames` frames, `max_bytes` bytes and `max_pixels` decoded
    pixels in all (each frame also within the image limits); of a video, at most `max_video_frames` frames in the
    file and `decode_seconds` of decoding (`antialiased.sequences.video`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_frames: int = Field(
        IMAGENET_P_FRAMES, ge=MIN_FRAMES, description="Frames of one sequence (of a video: the frames used)."
    )
    max_bytes: int = Field(16 * 1024 * 1024, ge=1, description="Encoded bytes of all frames (or of the video).")
    max_pixels: int = Field(48_000_000, ge=1, description="Decoded pixels of all frames, from their headers.")
    max_video_frames: int = Field(
        1800, ge=MIN_FRAMES, description="Frames of one video file (a minute at 30 fps), from its header and counted."
    )
    decode_seconds: float = Field(
        10.0, gt=0, description="Wall-clock budget of decoding one video: its header check and its frames used."
    )


@dataclass(frozen=True)
class FrameSelection:
    """Which frames of a sequence are used: every `stride`-th from the first, at most `max_frames` of them."""

    stride: int = 1
    max_frames: int | None = None  # None: the limit's max_frames

    def indices(self, frames: int, limits: SequenceLimits) -> range:
        """The indices used of a sequence of `frames` frames."""
        return range(0, frames, self.stride)[: self.cap(limits)]

    def cap(self, limits: SequenceLimits) -> int:
        """The most frames used: `max_frames`, at most the limit's; ApiError invalid_parameter beyond it."""
        if self.stride < 1:
            raise ApiError(ErrorCode.INVALID_PARAMETER, f"stride must be at least 1, got {self.stride}")
        if self.max_frames is None:
            return limits.max_frames
        if not MIN_FRAMES <= self.max_frames <= limits.max_frames:
            message = f"max_frames must be in [{MIN_FRAMES}, {limits.max_frames}] (the limit), got {self.max_frames}"
            raise ApiError(ErrorCode.INVALID_PARAMETER, message)
        return self.max_frames


def check_frame_count(count: int, limits: SequenceLimits) -> None:
    """ApiError too_few_frames (400) below MIN_FRAMES, too_many_frames (413) beyond `limits.max_frames`."""
    if count < MIN_FRAMES:
        raise ApiError(ErrorCode.TOO_FEW_FRAMES, f"a sequence needs at least {MIN_FRAMES} frames, got {count}")
    if count > limits.max_frames:
        raise ApiError(
            ErrorCode.TOO_MANY_FRAMES, f"the sequence has more than {limits.max_frames} frames (the limit)", 413
        )


def check_sequence_pixels(pixels: int, limits: SequenceLimits) -> None:
    """ApiError too_many_pixels (413) when the frames' `pixels` in all exceed `limits.max_pixels`."""
    if pixels > limits.max_pixels:
        message = f"the frames hold {pixels} pixels in all; the limit is {limits.max_pixels}"
        raise ApiError(ErrorCode.TOO_MANY_PIXELS, message, 413)


def consecutive_pairs(frames: int) -> list[tuple[int, int]]:
    """(k-1, k) for k = 1 .. frames-1."""
    return [(k - 1, k) for k in range(1, frames)]


@dataclass(frozen=True)
class SequenceMetrics:
    """A sequence's stability from frame to frame (see the module docstring); `curve` is p(majority class) at each
    frame, `majority_share` the fraction of frames where it is top-1."""

    frames: int
    flip_rate: float
    mean_top5_distance: float
    wobble: float
    majority_class: int
    majority_share: float
    curve: list[float]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sequence_metrics(
    rankings: Sequence[Sequence[int]], class_probabilities: Mapping[int, Sequence[float]]
) -> SequenceMetrics:
    """`SequenceMetrics` from each frame's ranking (class indices by descending probability, at least the top 5)
    and the probability at each frame of at least the majority class."""
    if len(rankings) < MIN_FRAMES:
        raise ValueError(f"a sequence needs at least {MIN_FRAMES} frames")
    top1 = [ranking[0] for ranking in rankings]
    pairs = consecutive_pairs(len(rankings))
    majority, share = majority_class(top1)
    curve = [float(p) for p in class_probabilities[majority]]
    return SequenceMetrics(
        frames=len(rankings),
        flip_rate=flip_probability(top1),
        mean_top5_distance=mean_top5_distance(rankings, pairs),
        wobble=mean_abs_delta(curve, pairs),
        majority_class=majority,
        majority_share=share,
        curve=curve,
    )
