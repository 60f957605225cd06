"""Class probabilities -> the answers of the handler contract (`antialiased.serving.contract`), as JSON text, the
classes named by the model's label set."""

from __future__ import annotations

from typing import Any

import torch

from antialiased.label_sets import LabelSet
from antialiased.serving.contract import (
    Classification,
    ClassName,
    ModelInfo,
    Prediction,
    ShiftClassification,
    ShiftGeometry,
    ShiftPrediction,
    WeightsInfo,
)
from antialiased.shifts import ShiftRequest


def topk_predictions(probabilities: torch.Tensor, k: int, labels: LabelSet) -> list[list[Prediction]]:
    """For each row of `probabilities` (N, classes): its k most probable classes, most probable first (every class
    of a model of fewer than k)."""
    values, indices = probabilities.topk(min(k, probabilities.shape[1]), dim=1)
    return [
        [
            Prediction(index=index, label=labels.names[index], probability=value)
            for index, value in zip(row_indices, row_values, strict=True)
        ]
        for row_indices, row_values in zip(indices.tolist(), values.tolist(), strict=True)
    ]


def classification(
    model: ModelInfo,
    weights: WeightsInfo,
    probabilities: torch.Tensor,
    k: int,
    labels: LabelSet,
    *,
    every_class: bool = False,
    label_set: bool = False,
) -> str:
    """The answer to a plain request: its one view's top-k; with `every_class` each class's probability, with
    `label_set` the model's label set."""
    answer = Classification(
        model=model,
        weights=weights,
        topk=topk_predictions(probabilities, k, labels)[0],
        probabilities=probabilities[0].tolist() if every_class else None,
        labels=[ClassName(name=label.name, id=label.id) for label in labels.labels] if label_set else None,
    )
    left_out = {name for name, asked in (("probabilities", every_class), ("labels", label_set)) if not asked}
    return answer.model_dump_json(exclude=left_out)


def shift_classification(
    model: ModelInfo,
    weights: WeightsInfo,
    probabilities: torch.Tensor,
    k: int,
    request: ShiftRequest,
    labels: LabelSet,
    *,
    every_class: bool = False,
) -> str:
    """The answer to a shift request: top-k per shift, and the probability curve of every class top-1 somewhere;
    with `every_class` each class's probability at each shift."""
    top1_classes = sorted(set(probabilities.argmax(dim=1).tolist()))
    geometry = request.to_json()
    del geometry["offsets"]
    return ShiftClassification(
        model=model,
        weights=weights,
        shift=ShiftGeometry(**geometry),
        shifts=[
            ShiftPrediction(offset=offset, topk=entries)
            for offset, entries in zip(request.offsets, topk_predictions(probabilities, k, labels), strict=True)
        ],
        class_probabilities={str(c): probabilities[:, c].tolist() for c in top1_classes},
        probabilities=probabilities.tolist() if every_class else None,
    ).model_dump_json(exclude=_absent(every_class, request))


def _absent(every_class: bool, request: ShiftRequest) -> dict[str, Any] | None:
    """What a shift answer leaves out: every class's probability unless asked, the method of integer offsets."""
    absent: dict[str, Any] = {} if every_class else {"probabilities": True}
    if request.method is None:
        absent["shift"] = {"method"}
    return absent or None
