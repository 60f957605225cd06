"""One probe of one served model: one TorchServe request with the image and the plan's offsets, then the metrics."""

from __future__ import annotations

import time
from typing import Any

from antialiased.metrics import TOP5, summarize
from antialiased.protocols import ShiftPlan
from service.errors import ServiceError
from service.schemas import ModelProbe, ModelTimings, ShiftResult
from service.torchserve import TorchServeClient


async def probe_model(client: TorchServeClient, model: str, image: bytes, plan: ShiftPlan, top_k: int) -> ModelProbe:
    """Ask `model` about every offset of `plan` in one request and score the answer.

    TorchServe returns at least the top 5 per shift (the top-5 distance needs them); `top_k` of them are kept.
    """
    start = time.perf_counter()
    answer = await client.predict(model, image, topk=max(top_k, TOP5), shifts=plan.request)
    served = time.perf_counter()
    shifts, class_probabilities = _parse(answer, plan, model)
    rankings = [[p["index"] for p in shift["topk"]] for shift in shifts]
    metrics = summarize(plan.offsets, plan.pairs, plan.sequence, rankings, class_probabilities)
    majority_label = next(s["topk"][0]["label"] for s in shifts if s["topk"][0]["index"] == metrics.majority_class)
    return ModelProbe(
        model=answer["model"],
        weights=answer["weights"],
        score=metrics.score,
        metrics=metrics,
        majority_label=majority_label,
        shifts=[ShiftResult(offset=s["offset"], topk=s["topk"][:top_k]) for s in shifts],
        class_probabilities={str(c): p for c, p in class_probabilities.items()},
        timings=ModelTimings(torchserve_ms=(served - start) * 1000, metrics_ms=(time.perf_counter() - served) * 1000),
    )


def _parse(answer: Any, plan: ShiftPlan, model: str) -> tuple[list[dict[str, Any]], dict[int, list[float]]]:
    """The answer's shifts and class probabilities, checked against the plan (a mismatch is TorchServe's fault)."""
    try:
        shifts = answer["shifts"]
        offsets = [tuple(s["offset"]) for s in shifts]
        class_probabilities = {int(c): [float(p) for p in v] for c, v in answer["class_probabilities"].items()}
        complete = all(len(s["topk"]) >= TOP5 for s in shifts) and "model" in answer and "weights" in answer
    except (KeyError, TypeError, ValueError) as error:
        raise ServiceError(502, "torchserve_error", f"{model}: unexpected shift answer ({error!r})") from error
    if offsets != list(plan.offsets) or not complete:
        raise ServiceError(502, "torchserve_error", f"{model}: the shift answer does not match the request")
    return shifts, class_probabilities
