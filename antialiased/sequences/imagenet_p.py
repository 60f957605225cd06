"""ImageNet-P's metrics as its own evaluation computes them (Hendrycks & Dietterich, ICLR 2019; hendrycks/robustness,
`ImageNet-P/test.py`), from each frame's logits (numpy, torch-free).

- Which frames are compared (`compared_pairs`; a sequence's `SequencePlan` says how, from its perturbation
  folder): for a perturbation that moves through time (translate, rotate, blur, brightness...) at difficulty d, the
  frames are d interleaved walks (i, i+d, i+2d, ...) for i < d, each frame compared with the one before it in its
  walk; a noise perturbation's frames (independent draws; its difficulty is its folder: `gaussian_noise`,
  `gaussian_noise_2`, `gaussian_noise_3`) are each compared with the first frame.
- Ranks are ordinal ranks of the logits, 1 for the highest (scipy's `rankdata(-logits, "ordinal")`: ties by class
  index); the top-1 class is the logits' argmax.
- Flip probability: the fraction of compared pairs whose top-1 differs. Top-5 distance: with sigma the ranks in the
  later frame of the earlier frame's classes in the earlier frame's order, the sum over its top 5 positions k of
  |c(k) - c(sigma_k - 1)|, c = cumsum([0, 1, 1, 1, 1, 1, 0, ...]) (0..15). Zipf distance: the sum over all
  positions k of |1/k - 1/sigma_k| / k.
- A video's figure is the mean over its compared pairs; a perturbation's, the mean over its videos.
- mFR and mT5D: each test perturbation's figure divided by AlexNet's, averaged over the perturbations (difficulty 1,
  as the benchmark's results are measured: "most people only measure with difficulty 1", its author).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

# The ten test perturbations (the repository's README: spatter is a validation sequence; so are speckle noise,
# Gaussian blur and shear, as ImageNet-C's validation corruptions), and the noise ones, whose frames are independent.
TEST_PERTURBATIONS = ("gaussian_noise", "shot_noise", "motion_blur", "zoom_blur", "snow", "brightness", "translate",
                      "rotate", "tilt", "scale")  # fmt: skip
VALIDATION_PERTURBATIONS = ("speckle_noise", "gaussian_blur", "spatter", "shear")
NOISE_PERTURBATIONS = ("gaussian_noise", "shot_noise", "speckle_noise")
DIFFICULTIES = (1, 2, 3)
TOP5 = 5
FIGURES = ("flip_probability", "top5_distance", "zipf_distance")


@dataclass(frozen=True)
class Published:
    """A row of ImageNet-P's leaderboard (ResNet-50 backbone; hendrycks/robustness README), in percent."""

    method: str
    reference: str
    mfr: float
    mt5d: float | None


LEADERBOARD = (
    Published("AugMix", "Hendrycks and Mu et al. (ICLR 2020)", 37.4, None),
    Published("Low Pass Filter Pooling (bin-5)", "Zhang (ICML 2019)", 51.2, 71.9),
    Published("ResNet-50 Baseline", "", 58.0, 78.4),
)


def perturbation_of(folder: str) -> tuple[str, int] | None:
    """An ImageNet-P perturbation folder's (perturbation, difficulty of its noise folder) (`gaussian_noise_2` ->
    (`gaussian_noise`, 2)); None for any other name."""
    name, _, suffix = folder.rpartition("_")
    if name in NOISE_PERTURBATIONS and suffix in ("2", "3"):
        return name, int(suffix)
    if folder in TEST_PERTURBATIONS or folder in VALIDATION_PERTURBATIONS:
        return folder, 1
    return None


@dataclass(frozen=True)
class SequencePlan:
    """A sequence: its frames (a folder's; 0 for a video's, counted when it is decoded) and its ImageNet-P
    perturbation folder ("" for other sequences), which says how its frames are compared (the module docstring)."""

    frames: int = 0
    perturbation: str = ""

    @property
    def noise(self) -> bool:
        """Whether every frame is compared with the first (ImageNet-P's noise perturbations)."""
        known = perturbation_of(self.perturbation)
        return known is not None and known[0] in NOISE_PERTURBATIONS

    @property
    def difficulties(self) -> tuple[int, ...]:
        """The difficulties it is scored at: a noise folder's own, else each of ImageNet-P's."""
        known = perturbation_of(self.perturbation)
        return (known[1],) if known is not None and self.noise else DIFFICULTIES


def compared_pairs(frames: int, difficulty: int = 1, noise: bool = False) -> list[tuple[int, int]]:
    """The (earlier, later) frame pairs ImageNet-P compares in a video of `frames` frames (module docstring)."""
    step = 1 if noise else difficulty
    pairs = []
    for start in range(step):
        walk = range(start, frames, step)
        if noise:
            pairs += [(walk[0], later) for later in walk[1:]]
        else:
            pairs += list(pairwise(walk))
    return pairs


def ordinal_ranks(logits: np.ndarray) -> np.ndarray:
    """(frames, classes) logits -> each class's rank in each frame, 1 for the highest, ties by class index."""
    order = np.argsort(-logits, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(len(order))[:, None], order] = np.arange(1, logits.shape[1] + 1)
    return ranks


def rank_distances(ranks: np.ndarray, pairs: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The top-5 and Zipf distances of each pair (earlier, later) of frames, from their ordinal ranks."""
    earlier, later = np.asarray(pairs).T
    sigma = np.take_along_axis(ranks[later], np.argsort(ranks[earlier], axis=1), axis=1)  # ranks, earlier's order
    positions = np.arange(1, ranks.shape[1] + 1)
    top5 = np.abs(np.minimum(positions[:TOP5] - 1, TOP5) - np.minimum(sigma[:, :TOP5] - 1, TOP5)).sum(axis=1)
    zipf = (np.abs(1.0 / positions - 1.0 / sigma) / positions).sum(axis=1)
    return top5.astype(np.float64), zipf


def video_figures(logits: np.ndarray, noise: bool, difficulties: Sequence[int]) -> dict[int, dict[str, float]]:
    """A video's flip probability, top-5 and Zipf distances (means over its compared pairs) at each difficulty it
    has a pair for (a noise video: its folder's difficulty, given as the only one)."""
    ranks = ordinal_ranks(np.asarray(logits, dtype=np.float64))
    top1 = np.argmax(logits, axis=1)
    figures = {}
    for difficulty in difficulties:
        pairs = compared_pairs(len(ranks), difficulty, noise)
        if not pairs:
            continue
        earlier, later = np.asarray(pairs).T
        top5, zipf = rank_distances(ranks, pairs)
        figures[difficulty] = {
            "flip_probability": float(np.mean(top1[earlier] != top1[later])),
            "top5_distance": float(top5.mean()),
            "zipf_distance": float(zipf.mean()),
        }
    return figures


def normalised_mean(
    figures: Mapping[str, float], alexnet: Mapping[str, float], perturbations: Sequence[str] = TEST_PERTURBATIONS
) -> tuple[float | None, list[str]]:
    """mFR or mT5D: the mean over `perturbations` of figure / AlexNet's figure, in percent, and the perturbations
    it averages (those both have; None when there is none)."""
    common = [p for p in perturbations if p in figures and alexnet.get(p)]
    if not common:
        return None, []
    return float(100 * np.mean([figures[p] / alexnet[p] for p in common])), common
