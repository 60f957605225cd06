"""One probe of one target: its predictions at every offset of the plan (see service.targets), then the metrics."""

from __future__ import annotations

import time
from typing import Any

from antialiased.metrics import TOP5, StabilityMetrics, summarize
from antialiased.protocols import ShiftPlan
from antialiased.sequences import SequenceMetrics, sequence_metrics
from antialiased.serving.contract import ShiftPrediction
from service.schemas import ModelProbe, ModelSequence, ModelTimings
from service.targets.base import FramesProbe, ProbeImage, Target, TargetAnswer


async def probe_target(target: Target, probe: ProbeImage, plan: ShiftPlan, topk: int) -> ModelProbe:
    """Ask `target` about every offset of `plan` and score the answers.

    Targets answer at least the top 5 per shift (the top-5 distance needs them); `topk` of them are kept.
    """
    start = time.perf_counter()
    answer = await target.classify(probe, max(topk, TOP5))
    served = time.perf_counter()
    rankings = [[p.index for p in shift] for shift in answer.shifts]
    metrics = summarize(
        plan.offsets, plan.pairs, plan.sequence, rankings, answer.class_probabilities, plan.reference, plan.shifts
    )
    return ModelProbe(
        score=metrics.score,
        shifts=[
            ShiftPrediction(offset=offset, topk=shift[:topk])
            for offset, shift in zip(plan.offsets, answer.shifts, strict=True)
        ],
        **_result_fields(target, answer, metrics, start, served),
    )


async def sequence_target(target: Target, frames: FramesProbe, topk: int) -> ModelSequence:
    """Ask `target` about every frame of a sequence and score the answers (`antialiased.sequences`)."""
    start = time.perf_counter()
    answer = await target.classify_frames(frames, max(topk, TOP5))
    served = time.perf_counter()
    metrics = sequence_metrics([[p.index for p in frame] for frame in answer.shifts], answer.class_probabilities)
    return ModelSequence(
        frames=[frame[:topk] for frame in answer.shifts], **_result_fields(target, answer, metrics, start, served)
    )


def _result_fields(
    target: Target, answer: TargetAnswer, metrics: StabilityMetrics | SequenceMetrics, start: float, served: float
) -> dict[str, Any]:
    """What a target's result holds whether its views were shifts or frames: who answered, the metrics and the name of
    their majority class, each top-1 class's curve, and the timings (asked from `start`, answered at `served`, the
    metrics until now)."""
    majority_label = next(view[0].label for view in answer.shifts if view[0].index == metrics.majority_class)
    timings = ModelTimings(torchserve_ms=(served - start) * 1000, metrics_ms=(time.perf_counter() - served) * 1000)
    return {
        "target": target.name,
        "target_kind": target.kind,
        "protocol": target.kind,
        "model": answer.model,
        "weights": answer.weights,
        "metrics": metrics,
        "majority_label": majority_label,
        "class_probabilities": {str(c): curve for c, curve in answer.class_probabilities.items()},
        "timings": timings,
    }
