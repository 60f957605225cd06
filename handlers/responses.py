"""Class probabilities -> the JSON answers of the handler contract (top-k with labels, per-shift results)."""

from __future__ import annotations

from typing import Any

import torch

from antialiased.labels import IMAGENET_CATEGORIES
from antialiased.shifts import ShiftRequest


def topk_entries(probabilities: torch.Tensor, k: int) -> list[list[dict[str, Any]]]:
    """For each row of `probabilities` (N, classes): its k most probable classes, most probable first."""
    values, indices = probabilities.topk(k, dim=1)
    return [
        [
            {"index": index, "label": IMAGENET_CATEGORIES[index], "probability": value}
            for index, value in zip(row_indices, row_values, strict=True)
        ]
        for row_indices, row_values in zip(indices.tolist(), values.tolist(), strict=True)
    ]


def plain_answer(probabilities: torch.Tensor, k: int) -> dict[str, Any]:
    """The answer fields of a plain classification: one view's top-k."""
    return {"topk": topk_entries(probabilities, k)[0]}


def shift_answer(probabilities: torch.Tensor, k: int, request: ShiftRequest) -> dict[str, Any]:
    """The answer fields of a shift request: top-k per shift, and the probability curve of every class
    that is top-1 at some shift (so a client can follow one class across all shifts)."""
    top1_classes = sorted(set(probabilities.argmax(dim=1).tolist()))
    return {
        "shift": {
            "mode": request.mode,
            "crop_size": request.crop_size,
            "base_size": request.base_size,
            "resize_size": request.resize_size,
        },
        "shifts": [
            {"offset": list(offset), "topk": entries}
            for offset, entries in zip(request.offsets, topk_entries(probabilities, k), strict=True)
        ],
        "class_probabilities": {str(c): probabilities[:, c].tolist() for c in top1_classes},
    }


def error_answer(code: str, message: str) -> dict[str, str]:
    """The JSON body of a refused request."""
    return {"code": code, "message": message}
