"""Class probabilities -> the answers of the handler contract (`antialiased.serving.contract`), as JSON text."""

from __future__ import annotations

import torch

from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.serving.contract import (
    Classification,
    ModelInfo,
    Prediction,
    ShiftClassification,
    ShiftGeometry,
    ShiftPrediction,
    WeightsInfo,
)
from antialiased.shifts import ShiftRequest


def topk_predictions(probabilities: torch.Tensor, k: int) -> list[list[Prediction]]:
    """For each row of `probabilities` (N, classes): its k most probable classes, most probable first."""
    values, indices = probabilities.topk(k, dim=1)
    return [
        [
            Prediction(index=index, label=IMAGENET_CATEGORIES[index], probability=value)
            for index, value in zip(row_indices, row_values, strict=True)
        ]
        for row_indices, row_values in zip(indices.tolist(), values.tolist(), strict=True)
    ]


def classification(
    model: ModelInfo, weights: WeightsInfo, probabilities: torch.Tensor, k: int, every_class: bool = False
) -> str:
    """The answer to a plain request: its one view's top-k, and with `every_class` each class's probability."""
    answer = Classification(
        model=model,
        weights=weights,
        topk=topk_predictions(probabilities, k)[0],
        probabilities=probabilities[0].tolist() if every_class else None,
    )
    return answer.model_dump_json(exclude=None if every_class else {"probabilities"})


def shift_classification(
    model: ModelInfo,
    weights: WeightsInfo,
    probabilities: torch.Tensor,
    k: int,
    request: ShiftRequest,
    every_class: bool = False,
) -> str:
    """The answer to a shift request: top-k per shift, the probability curve of every class top-1 somewhere, and
    with `every_class` each view's probability of every class."""
    top1_classes = sorted(set(probabilities.argmax(dim=1).tolist()))
    geometry = request.to_json()
    del geometry["offsets"]
    answer = ShiftClassification(
        model=model,
        weights=weights,
        shift=ShiftGeometry(**geometry),
        shifts=[
            ShiftPrediction(offset=offset, topk=entries)
            for offset, entries in zip(request.offsets, topk_predictions(probabilities, k), strict=True)
        ],
        class_probabilities={str(c): probabilities[:, c].tolist() for c in top1_classes},
        probabilities=probabilities.tolist() if every_class else None,
    )
    exclude: dict = {} if every_class else {"probabilities": True}
    if request.method is None:
        exclude["shift"] = {"method"}  # integer offsets: absent
    return answer.model_dump_json(exclude=exclude or None)
