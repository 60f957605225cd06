"""One probe of one served model: one TorchServe request with the image and the plan's offsets, then the metrics."""

from __future__ import annotations

import time

from antialiased.metrics import TOP5, summarize
from antialiased.protocols import ShiftPlan
from service.schemas import ModelProbe, ModelTimings
from service.torchserve import TorchServeClient


async def probe_model(client: TorchServeClient, model: str, image: bytes, plan: ShiftPlan, top_k: int) -> ModelProbe:
    """Ask `model` about every offset of `plan` in one request and score the answer.

    TorchServe returns at least the top 5 per shift (the top-5 distance needs them); `top_k` of them are kept.
    """
    start = time.perf_counter()
    answer = await client.classify_shifts(model, image, plan.request, topk=max(top_k, TOP5))
    served = time.perf_counter()
    class_probabilities = {int(c): p for c, p in answer.class_probabilities.items()}
    rankings = [[p.index for p in shift.topk] for shift in answer.shifts]
    metrics = summarize(plan.offsets, plan.pairs, plan.sequence, rankings, class_probabilities)
    majority_label = next(s.topk[0].label for s in answer.shifts if s.topk[0].index == metrics.majority_class)
    return ModelProbe(
        model=answer.model,
        weights=answer.weights,
        score=metrics.score,
        metrics=metrics,
        majority_label=majority_label,
        shifts=[shift.model_copy(update={"topk": shift.topk[:top_k]}) for shift in answer.shifts],
        class_probabilities=answer.class_probabilities,
        timings=ModelTimings(torchserve_ms=(served - start) * 1000, metrics_ms=(time.perf_counter() - served) * 1000),
    )
