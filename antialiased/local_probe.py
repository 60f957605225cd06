"""In-process shift-stability probe, for notebooks: the service's protocols and metrics on a local model.

>>> result = probe(model, image, ProbeSpec(protocol="circular", pairs=16, seed=0))
>>> result.score, result.metrics.majority_class
>>> probe_sequence(model, ["frame0.jpg", "frame1.jpg", "frame2.jpg"]).metrics.flip_rate
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision.transforms.v2 import functional as TF

from antialiased._deprecated import renamed_keywords
from antialiased.images import decode_image
from antialiased.metrics import TOP5, StabilityMetrics, summarize
from antialiased.protocols import ProbeSpec, ShiftPlan, make_plan
from antialiased.sequences import SequenceLimits, SequenceMetrics, check_frame_count, sequence_metrics
from antialiased.shifts import MAX_OFFSETS_PER_REQUEST
from antialiased.transforms import preprocess, shifted_views

TopK = tuple[tuple[int, float], ...]  # (class index, probability), descending
AnyImage = torch.Tensor | Image.Image | bytes | str | Path
DEFAULT_SEQUENCE_LIMITS = SequenceLimits()


@dataclass(frozen=True)
class ProbeResult:
    """A probe's plan, each shift's top-k, the probability curves of every class top-1 somewhere, the metrics."""

    plan: ShiftPlan
    topk: tuple[TopK, ...]  # one per offset of plan.offsets
    class_probabilities: dict[int, tuple[float, ...]]
    metrics: StabilityMetrics

    @property
    def score(self) -> float:
        """The stability score (consistency over the plan's pairs)."""
        return self.metrics.score


@renamed_keywords(max_shifts="max_offsets")
def probe(
    model: nn.Module,
    image: torch.Tensor | Image.Image | bytes | str | Path,
    spec: ProbeSpec = ProbeSpec(),
    *,
    topk: int = TOP5,
    batch_size: int = 64,
    max_offsets: int = MAX_OFFSETS_PER_REQUEST,
) -> ProbeResult:
    """Classify the shifted views of `image` that `spec` picks (see `antialiased.protocols`) and score them.

    `model` maps normalised (N, 3, H, W) batches to class logits; it runs in eval mode without gradients
    on the device of its parameters, `batch_size` views at a time. `image` is a uint8 (3, H, W) tensor,
    a PIL image, or an image file's bytes or path (decoded by `antialiased.images.decode_image`).
    """
    plan = make_plan(spec, max_offsets)
    probabilities = _classify(model, _as_uint8_image(image), plan, batch_size)
    ranked = probabilities.topk(min(max(topk, TOP5), probabilities.shape[1]), dim=1)  # a small model: all classes
    rankings = ranked.indices.tolist()
    top1_classes = sorted({ranking[0] for ranking in rankings})
    class_probabilities = {c: tuple(probabilities[:, c].tolist()) for c in top1_classes}
    top = tuple(
        tuple(zip(indices[:topk], values[:topk], strict=True))
        for indices, values in zip(rankings, ranked.values.tolist(), strict=True)
    )
    metrics = summarize(
        plan.offsets, plan.pairs, plan.sequence, rankings, class_probabilities, plan.reference, plan.shifts
    )
    return ProbeResult(plan, top, class_probabilities, metrics)


@dataclass(frozen=True)
class SequenceResult:
    """A sequence probe: each frame's top-k, the probability curves of every class top-1 somewhere, the metrics."""

    topk: tuple[TopK, ...]  # one per frame
    class_probabilities: dict[int, tuple[float, ...]]
    metrics: SequenceMetrics


def probe_sequence(
    model: nn.Module,
    frames: Sequence[AnyImage],
    *,
    topk: int = TOP5,
    batch_size: int = 64,
    limits: SequenceLimits = DEFAULT_SEQUENCE_LIMITS,
) -> SequenceResult:
    """Classify each frame (its 224 center crop, as a plain classification) and score the sequence from frame to
    frame (`antialiased.sequences`: flip rate, mean top-5 distance, wobble); at most `limits.max_frames` frames."""
    check_frame_count(len(frames), limits)
    views = torch.stack([preprocess(_as_uint8_image(frame)) for frame in frames])
    probabilities = _forward(model, views, batch_size)
    return SequenceResult(*_ranked(probabilities, topk), sequence_metrics(*_rankings(probabilities)))


def _rankings(probabilities: torch.Tensor) -> tuple[list[list[int]], dict[int, list[float]]]:
    """Each row's top-5 classes and the probability curve of every class top-1 in some row."""
    rankings = probabilities.topk(min(TOP5, probabilities.shape[1]), dim=1).indices.tolist()
    return rankings, {c: probabilities[:, c].tolist() for c in sorted({r[0] for r in rankings})}


def _ranked(probabilities: torch.Tensor, topk: int) -> tuple[tuple[TopK, ...], dict[int, tuple[float, ...]]]:
    """Each row's top-k (class, probability) and the curves of `_rankings`, as tuples."""
    ranked = probabilities.topk(topk, dim=1)
    rows = zip(ranked.indices.tolist(), ranked.values.tolist(), strict=True)
    top = tuple(tuple(zip(i, v, strict=True)) for i, v in rows)
    return top, {c: tuple(curve) for c, curve in _rankings(probabilities)[1].items()}


def _forward(model: nn.Module, views: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Softmax probabilities of normalised views, in eval mode on the model's device, float32 on the CPU."""
    device = _device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits = torch.cat([model(batch.to(device)) for batch in views.split(batch_size)])
    finally:
        model.train(was_training)
    return logits.float().softmax(dim=1).cpu()


def _classify(model: nn.Module, image: torch.Tensor, plan: ShiftPlan, batch_size: int) -> torch.Tensor:
    """Softmax probabilities (len(offsets), classes) of every shifted view, in float32 on the CPU."""
    return _forward(model, shifted_views(image, plan.request, device=_device(model)), batch_size)


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _as_uint8_image(image: AnyImage) -> torch.Tensor:
    if isinstance(image, (str, Path)):
        image = Path(image).read_bytes()
    if isinstance(image, bytes):
        return decode_image(image)  # as the handler decodes: EXIF orientation, any colour mode -> RGB
    if isinstance(image, Image.Image):
        return TF.pil_to_tensor(image.convert("RGB"))
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a uint8 RGB tensor (3, H, W), got {image.dtype} {tuple(image.shape)}")
    return image
