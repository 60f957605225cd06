"""In-process shift-stability probe, for notebooks: the service's protocols and metrics on a local model.

>>> result = probe(model, image, ProbeSpec(protocol="circular", pairs=16, seed=0))
>>> result.score, result.metrics.majority_class
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision.transforms.v2 import functional as TF

from antialiased.images import decode_image
from antialiased.metrics import TOP5, StabilityMetrics, summarize
from antialiased.protocols import ProbeSpec, ShiftPlan, make_plan
from antialiased.shifts import MAX_SHIFTS_PER_REQUEST
from antialiased.transforms import shifted_views

TopK = tuple[tuple[int, float], ...]  # (class index, probability), descending


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


def probe(
    model: nn.Module,
    image: torch.Tensor | Image.Image | bytes | str | Path,
    spec: ProbeSpec = ProbeSpec(),
    *,
    topk: int = TOP5,
    batch_size: int = 64,
    max_shifts: int = MAX_SHIFTS_PER_REQUEST,
) -> ProbeResult:
    """Classify the shifted views of `image` that `spec` picks (see `antialiased.protocols`) and score them.

    `model` maps normalised (N, 3, H, W) batches to class logits; it runs in eval mode without gradients
    on the device of its parameters, `batch_size` views at a time. `image` is a uint8 (3, H, W) tensor,
    a PIL image, or an image file's bytes or path (decoded by `antialiased.images.decode_image`).
    """
    plan = make_plan(spec, max_shifts)
    probabilities = _classify(model, _as_uint8_image(image), plan, batch_size)
    ranked = probabilities.topk(max(topk, TOP5), dim=1)
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


def _classify(model: nn.Module, image: torch.Tensor, plan: ShiftPlan, batch_size: int) -> torch.Tensor:
    """Softmax probabilities (len(offsets), classes) of every shifted view, in float32 on the CPU."""
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            views = shifted_views(image, plan.request, device=device)
            logits = torch.cat([model(batch) for batch in views.split(batch_size)])
    finally:
        model.train(was_training)
    return logits.float().softmax(dim=1).cpu()


def _as_uint8_image(image: torch.Tensor | Image.Image | bytes | str | Path) -> torch.Tensor:
    if isinstance(image, (str, Path)):
        image = Path(image).read_bytes()
    if isinstance(image, bytes):
        return decode_image(image)  # as the handler decodes: EXIF orientation, any colour mode -> RGB
    if isinstance(image, Image.Image):
        return TF.pil_to_tensor(image.convert("RGB"))
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a uint8 RGB tensor (3, H, W), got {image.dtype} {tuple(image.shape)}")
    return image
