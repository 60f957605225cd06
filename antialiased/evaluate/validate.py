"""Top-1 accuracy and shift consistency of one in-memory network over a data set: the evaluation's plans, local
engine, per-image scoring and estimates, without a run directory (the fine-tuning's per-epoch validation)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from antialiased.datasets import Dataset
from antialiased.evaluate.engines.base import WorkItem
from antialiased.evaluate.engines.local import LocalEngine
from antialiased.evaluate.plans import EvaluationProtocol, all_plans
from antialiased.evaluate.statistics import mean_estimate

# The paper's `validate_shift`: one offset pair per batch of images, numpy's generator (see plans.py).
PAPER_PROTOCOL = EvaluationProtocol(mode="paper", measures=("accuracy", "consistency"))


def validate_network(
    network: nn.Module,
    dataset: Dataset,
    *,
    protocol: EvaluationProtocol = PAPER_PROTOCOL,
    device: torch.device,
    precision: str = "float32",
    workers: int = 0,
    max_views: int = 64,
) -> dict[str, dict | int]:
    """`{"images", "unreadable", "top1", "consistency"}` of `network` (left in the mode it was in) on `dataset`,
    each figure in percent with its 95% interval, as `python -m antialiased.evaluate` computes them."""
    training = network.training
    plans = all_plans(protocol, len(dataset.samples))
    items = [WorkItem(i, s.path, s.label, plans[i]) for i, s in enumerate(dataset.samples)]
    try:
        engine = LocalEngine(
            {"model": network},
            device=device,
            precision=precision,
            batch_size=protocol.batch_size,
            workers=workers,
            max_views=max_views,
        )
        records = [result.records["model"] for result in engine.run(items) if result.records]
    finally:
        network.train(training)  # preparing the model for inference puts it in eval mode
    correct = np.array([record["correct1"] for record in records], dtype=np.float64)
    agree = np.array([np.mean(record["shift_agree"]) for record in records], dtype=np.float64)
    return {
        "images": len(records),
        "unreadable": len(items) - len(records),
        "top1": mean_estimate(correct).to_json(),
        "consistency": mean_estimate(agree).to_json(),
    }
