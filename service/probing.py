"""One probe of one target: its predictions at every offset of the plan (see service.targets), then the metrics."""

from __future__ import annotations

import time

from antialiased.metrics import TOP5, summarize
from antialiased.protocols import ShiftPlan
from antialiased.sequences import sequence_metrics
from antialiased.serving.contract import ShiftPrediction
from service.schemas import ModelProbe, ModelSequence, ModelTimings
from service.targets.base import FramesProbe, ProbeImage, Target


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
    majority_label = next(s[0].label for s in answer.shifts if s[0].index == metrics.majority_class)
    return ModelProbe(
        target=target.name,
        target_kind=target.kind,
        protocol=target.kind,
        model=answer.model,
        weights=answer.weights,
        score=metrics.score,
        metrics=metrics,
        majority_label=majority_label,
        shifts=[
            ShiftPrediction(offset=offset, topk=shift[:topk])
            for offset, shift in zip(plan.offsets, answer.shifts, strict=True)
        ],
        class_probabilities={str(c): curve for c, curve in answer.class_probabilities.items()},
        timings=ModelTimings(torchserve_ms=(served - start) * 1000, metrics_ms=(time.perf_counter() - served) * 1000),
    )


async def sequence_target(target: Target, frames: FramesProbe, topk: int) -> ModelSequence:
    """Ask `target` about every frame of a sequence and score the answers (`antialiased.sequences`)."""
    start = time.perf_counter()
    answer = await target.classify_frames(frames, max(topk, TOP5))
    served = time.perf_counter()
    metrics = sequence_metrics([[p.index for p in frame] for frame in answer.shifts], answer.class_probabilities)
    majority_label = next(f[0].label for f in answer.shifts if f[0].index == metrics.majority_class)
    return ModelSequence(
        target=target.name,
        target_kind=target.kind,
        protocol=target.kind,
        model=answer.model,
        weights=answer.weights,
        metrics=metrics,
        majority_label=majority_label,
        frames=[frame[:topk] for frame in answer.shifts],
        class_probabilities={str(c): curve for c, curve in answer.class_probabilities.items()},
        timings=ModelTimings(torchserve_ms=(served - start) * 1000, metrics_ms=(time.perf_counter() - served) * 1000),
    )
