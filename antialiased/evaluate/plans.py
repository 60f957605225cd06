"""Which views of each image the evaluation classifies, and which of them it compares.

Every image gets one `ImagePlan`: its crop views (windows of the paper's 256 center crop: the 224
center crop for accuracy, the diagonal (d, d) for d = 0..32, one offset pair per shift pass) and its
circular views (rolls of the 224 center crop, one offset pair per pass). Offsets come from the
library's protocols (`antialiased.protocols.make_plan`); two ways to seed them:

- ``per-image`` (default): each image's offsets come from a generator keyed by (seed, image index,
  kind of shift), pass p taking the generator's p-th pair; so the figures do not depend on batch size,
  workers, shards or engine, and adding passes keeps the earlier ones.
- ``paper``: the paper's `validate_shift`: for each pass, for each batch of `batch_size` images in
  loader order, `off0 = randint(32, size=2)` then `off1 = randint(32, size=2)` from numpy's legacy
  generator seeded with `seed`; the whole batch shares the pair.

The ``sequence`` measure is of another data layout (`antialiased.datasets.discover_sequences`: folders of frames,
videos, ImageNet-P): each frame is classified by one view (`frame_request`: a frame of the model's input size as it
is, as ImageNet-P's test.py feeds its frames; any other as a plain image, its 224 center crop, the view the probe
service's /v1/sequence and `antialiased.probe_sequence` classify) and the sequence scored from frame to frame
(`antialiased.sequences`) and as ImageNet-P scores it at each difficulty (`antialiased.sequences.imagenet_p`); it is
measured alone, with no labels, and its plan's `sequence` is a `SequencePlan` (`antialiased.sequences.imagenet_p`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE, SHIFT_BASE_SIZE
from antialiased.protocols import DEFAULT_MAX_SHIFT, ProbeSpec, ShiftPlan, make_plan
from antialiased.sequences.imagenet_p import SequencePlan
from antialiased.shifts import Offset, ShiftRequest

MODES = ("per-image", "paper")
MEASURES = ("accuracy", "consistency", "diagonal", "circular", "worst-case", "fractional", "sequence")
SEQUENCE = "sequence"  # the measure of a folder of frame sequences, alone
# CenterCrop(224) of the resized image is the window at this offset of its CenterCrop(256).
CENTER_OFFSET = ((SHIFT_BASE_SIZE - CROP_SIZE) // 2,) * 2
_CROP_STREAM, _CIRCULAR_STREAM = 0, 1

OffsetPair = tuple[Offset, Offset]


@dataclass(frozen=True)
class EvaluationProtocol:
    """What to measure and how offsets are drawn; the same protocol gives the same offsets everywhere."""

    mode: str = "per-image"
    seed: int = 0
    epochs_shift: int = 5
    batch_size: int = 8  # images per batch; in paper mode the images that share one offset pair
    measures: tuple[str, ...] = ("accuracy", "consistency")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown consistency mode {self.mode!r}; use one of {', '.join(MODES)}")
        unknown = set(self.measures) - set(MEASURES)
        if unknown:
            raise ValueError(f"unknown measure(s) {', '.join(sorted(unknown))}; use {', '.join(MEASURES)}")
        if self.epochs_shift < 1 or self.batch_size < 1:
            raise ValueError("--epochs-shift and --batch-size must be at least 1")
        if SEQUENCE in self.measures:
            if set(self.measures) != {SEQUENCE}:
                raise ValueError(
                    "the sequence measure is measured alone: it scores a folder of frame sequences, each frame "
                    "classified as a plain image (no shifts, no labels)"
                )
            object.__setattr__(self, "measures", (SEQUENCE,))
            return
        # Accuracy is always measured (one view per image); the order is MEASURES' order.
        object.__setattr__(self, "measures", tuple(m for m in MEASURES if m in self.measures or m == "accuracy"))

    @property
    def sequences(self) -> bool:
        """Whether the run scores a folder of sequences (the sequence measure) rather than labelled images."""
        return self.measures == (SEQUENCE,)

    def to_json(self) -> dict:
        return {
            **asdict(self),
            "measures": list(self.measures),
            "max_shift": DEFAULT_MAX_SHIFT,
            "resize_size": RESIZE_SIZE,
            "shift_base_size": SHIFT_BASE_SIZE,
            "crop_size": CROP_SIZE,
        }


@dataclass(frozen=True)
class ImagePlan:
    """One image's views: crop offsets then circular offsets, and the indices (into crop + circular) to score."""

    crop_offsets: tuple[Offset, ...]
    circular_offsets: tuple[Offset, ...]
    center: int
    diagonal: tuple[int, ...]
    shift_pairs: tuple[tuple[int, int], ...]  # one per pass
    circular_pairs: tuple[tuple[int, int], ...]  # one per pass, indices past the crop views
    worst_case: tuple[int, ...] = ()  # the crop views of the ±8 window (the library's worst-case protocol)
    fractional_offsets: tuple[tuple[float, float], ...] = ()  # the library's fractional protocol (Fourier)
    sequence: SequencePlan | None = None  # a sequence, each frame classified by its center view (sequence_plan)

    @property
    def views(self) -> int:
        """The views of one image (of a sequence: of each frame)."""
        return len(self.crop_offsets) + len(self.circular_offsets) + len(self.fractional_offsets)

    @property
    def fractional(self) -> tuple[int, ...]:
        """The indices of the fractional views, the unshifted one first."""
        start = len(self.crop_offsets) + len(self.circular_offsets)
        return tuple(range(start, start + len(self.fractional_offsets)))

    def requests(self) -> list[ShiftRequest]:
        """The library's shift requests that cut these views (crop first, then circular when there are any)."""
        requests = [ShiftRequest(self.crop_offsets)]  # the paper's crops: 224 windows of the 256 center crop
        if self.circular_offsets:
            requests.append(ShiftRequest(self.circular_offsets, "circular", CROP_SIZE, CROP_SIZE, RESIZE_SIZE))
        if self.fractional_offsets:
            requests.append(_fractional_plan().request)
        return requests

    def shift_offsets(self) -> list[list[int]]:
        """Each pass's crop offset pair as [dy0, dx0, dy1, dx1], for the per-image table."""
        return [[*self.crop_offsets[a], *self.crop_offsets[b]] for a, b in self.shift_pairs]


def image_plan(protocol: EvaluationProtocol, index: int, paper_pairs: Sequence[OffsetPair] | None = None) -> ImagePlan:
    """The plan of image `index`; in paper mode its offset pairs come from `paper_offset_pairs`."""
    crop: dict[Offset, int] = {CENTER_OFFSET: 0}
    diagonal: tuple[int, ...] = ()
    if "diagonal" in protocol.measures:
        diagonal = tuple(crop.setdefault(offset, len(crop)) for offset in _diagonal_offsets())
    shift_pairs: tuple[tuple[int, int], ...] = ()
    if "consistency" in protocol.measures:
        if protocol.mode == "paper":
            pairs = list(paper_pairs or ())
        else:
            pairs = _drawn_pairs("paper", protocol, index, _CROP_STREAM)
        shift_pairs = tuple((crop.setdefault(a, len(crop)), crop.setdefault(b, len(crop))) for a, b in pairs)
    circular: dict[Offset, int] = {}
    circular_pairs: tuple[tuple[int, int], ...] = ()
    if "circular" in protocol.measures:
        drawn = _drawn_pairs("circular", protocol, index, _CIRCULAR_STREAM)
        local = [(circular.setdefault(a, len(circular)), circular.setdefault(b, len(circular))) for a, b in drawn]
        circular_pairs = tuple((a + len(crop), b + len(crop)) for a, b in local)
    worst_case: tuple[int, ...] = ()
    if "worst-case" in protocol.measures:
        worst_case = tuple(crop.setdefault(offset, len(crop)) for offset in _worst_case_offsets())
    fractional = _fractional_plan().offsets if "fractional" in protocol.measures else ()
    return ImagePlan(tuple(crop), tuple(circular), 0, diagonal, shift_pairs, circular_pairs, worst_case, fractional)


def sequence_plan(sequence: SequencePlan) -> ImagePlan:
    """The plan of a sequence: one view of each frame (`frame_request`), nothing else."""
    return ImagePlan((CENTER_OFFSET,), (), 0, (), (), (), sequence=sequence)


def frame_request(height: int, width: int) -> ShiftRequest:
    """The view of a sequence's frame of `height` x `width` that the evaluation classifies, in every engine.

    A frame of the model's input size (CROP_SIZE square: ImageNet-P's frames) goes in as it is, as ImageNet-P's
    test.py feeds its frames (ToTensor, Normalize: no resize, no crop): its shorter side "resized" to its own size and
    its whole square "cropped", both the identity. Any other frame: the paper's plain view, the 224 center crop of
    the image resized to 256 (the window at CENTER_OFFSET of its 256 center crop), as /v1/sequence classifies it.
    """
    if (height, width) == (CROP_SIZE, CROP_SIZE):
        return ShiftRequest(((0, 0),), crop_size=CROP_SIZE, base_size=CROP_SIZE, resize_size=CROP_SIZE)
    return ShiftRequest((CENTER_OFFSET,))


@functools.cache
def _diagonal_offsets() -> tuple[Offset, ...]:
    """The paper's diagonal (d, d), d = 0..32: the same for every image."""
    return make_plan(ProbeSpec(protocol="diagonal")).offsets


@functools.cache
def _worst_case_offsets() -> tuple[Offset, ...]:
    """The library's worst-case window (±8, crop mode) as windows of the 256 center crop: its (224 + 16) center crop
    is the window at (8, 8) of the 256 one."""
    plan = make_plan(ProbeSpec(protocol="worst-case"))
    margin = (SHIFT_BASE_SIZE - plan.request.base_size) // 2
    return tuple((dy + margin, dx + margin) for dy, dx in plan.offsets)


@functools.cache
def _fractional_plan() -> ShiftPlan:
    """The library's fractional protocol with its defaults: Fourier shifts (t, t), t = 0, 1/4, .. 1 px."""
    return make_plan(ProbeSpec(protocol="fractional"))


def _drawn_pairs(kind: str, protocol: EvaluationProtocol, index: int, stream: int) -> list[OffsetPair]:
    """`epochs_shift` offset pairs of the library protocol `kind`, from a generator keyed by (seed, index, stream)."""
    key = np.random.SeedSequence((protocol.seed, index, stream)).generate_state(2, np.uint32)
    seed = (int(key[0]) << 32 | int(key[1])) >> 1  # a 63-bit seed, as ProbeSpec takes
    plan = make_plan(ProbeSpec(protocol=kind, pairs=protocol.epochs_shift, seed=seed))
    return [(plan.offsets[a], plan.offsets[b]) for a, b in plan.pairs]


def paper_offset_pairs(protocol: EvaluationProtocol, images: int) -> list[list[OffsetPair]]:
    """For each image in loader order, its offset pair of each pass, drawn as the paper's `validate_shift` draws."""
    rng = np.random.RandomState(protocol.seed)  # the legacy generator behind np.random.randint
    pairs: list[list[OffsetPair]] = [[] for _ in range(images)]
    for _ in range(protocol.epochs_shift):
        for start in range(0, images, protocol.batch_size):
            off0 = rng.randint(DEFAULT_MAX_SHIFT, size=2)
            off1 = rng.randint(DEFAULT_MAX_SHIFT, size=2)
            pair = ((int(off0[0]), int(off0[1])), (int(off1[0]), int(off1[1])))
            for i in range(start, min(start + protocol.batch_size, images)):
                pairs[i].append(pair)
    return pairs


def all_plans(
    protocol: EvaluationProtocol, images: int, sequences: Sequence[SequencePlan | None] = ()
) -> list[ImagePlan]:
    """The plan of every image of the evaluation, in loader order; of the sequence measure, of every sequence."""
    if protocol.sequences:
        return [sequence_plan(sequence or SequencePlan()) for sequence in sequences]
    if protocol.mode == "paper" and "consistency" in protocol.measures:
        return [image_plan(protocol, i, pairs) for i, pairs in enumerate(paper_offset_pairs(protocol, images))]
    return [image_plan(protocol, i) for i in range(images)]
