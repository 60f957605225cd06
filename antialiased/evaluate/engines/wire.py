"""The handler's shift answer (`antialiased.serving.contract.ShiftClassification`) as the endpoint engine scores it."""

from __future__ import annotations

import math

from antialiased.evaluate.scoring import ViewScores
from antialiased.metrics import TOP5
from antialiased.serving.contract import ShiftClassification


def view_scores(answer: ShiftClassification, label: int) -> ViewScores:
    """ViewScores of a shift request's views from the handler's answer."""
    curve = answer.class_probabilities.get(str(label))
    top1, correct5, p_true, p_other = [], [], [], []
    for k, shift in enumerate(answer.shifts):
        indices = [entry.index for entry in shift.topk]
        top1.append(indices[0])
        correct5.append(label in indices[:TOP5])
        known = {entry.index: entry.probability for entry in shift.topk}
        p_true.append(curve[k] if curve is not None else known.get(label, math.nan))
        p_other.append(next(entry.probability for entry in shift.topk if entry.index != label))
    return ViewScores(top1, correct5, p_true, p_other)
