"""The figures of a run, from its per-image table: per model, per class, per diagonal offset, and between models.

Figures follow the paper's script: top-1 / top-5 accuracy of the 224 center crop (`validate`), consistency
as the fraction of shift pairs whose top-1 classes agree (`validate_shift`), and over the 33 diagonal
crops the mean p(true class) and top-1 / top-5 accuracy (`validate_diagonal`); circular consistency is the
same agreement under circular shifts. Each is in percent, with a 95% interval (see `statistics`).

A folder of sequences (the sequence measure) has the probe's sequence metrics (`antialiased.sequences`) per sequence
and their means over the sequences: the flip rate and the wobble in percent, the mean top-5 distance as it is (0 to
15); each with its interval and the paired differences between models, the sequences being the units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from antialiased.evaluate.statistics import Estimate, mean_estimate, paired_difference
from antialiased.protocols import ProbeSpec, make_plan


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    column: str
    measure: str  # the protocol measure that produces the column
    percent: bool = True  # a mean of values in [0, 1], in percent; else as it is


FIGURES = (
    Figure("top1", "top-1 accuracy", "correct1", "accuracy"),
    Figure("top5", "top-5 accuracy", "correct5", "accuracy"),
    Figure("consistency", "consistency (random shifts)", "shift_agree", "consistency"),
    Figure("diagonal_p_true", "diagonal: mean p(true class)", "diag_p_true", "diagonal"),
    Figure("diagonal_top1", "diagonal: top-1 accuracy", "diag_correct1", "diagonal"),
    Figure("diagonal_top5", "diagonal: top-5 accuracy", "diag_correct5", "diagonal"),
    Figure("circular_consistency", "circular-shift consistency", "circular_agree", "circular"),
    Figure("worst_case_accuracy", "worst-case accuracy (±8 window)", "wc_correct", "worst-case"),
    Figure("worst_case_flips", "images with a flipping shift (±8)", "wc_flip", "worst-case"),
    Figure("fractional_consistency", "sub-pixel consistency (Fourier, ≤ 1 px)", "frac_agree", "fractional"),
    Figure("flip_rate", "flip rate (consecutive frames)", "seq_flip_rate", "sequence"),
    Figure("mean_top5_distance", "mean top-5 distance (0-15)", "seq_top5_distance", "sequence", percent=False),
    Figure("wobble", "wobble (majority class, |Δp|)", "seq_wobble", "sequence"),
)
SEQUENCE_COLUMNS = {  # per-sequence results in results.json: key -> column
    "frames": "seq_frames",
    "flip_rate": "seq_flip_rate",
    "mean_top5_distance": "seq_top5_distance",
    "wobble": "seq_wobble",
    "majority_class": "seq_majority",
    "majority_share": "seq_majority_share",
}
LEAST_CONSISTENT = 10  # classes listed by lowest consistency


class ModelRows:
    """One model's rows of readable images, as numpy arrays in image order."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.index = table.column("index").to_numpy()
        self.label = table.column("label").to_numpy()

    def matrix(self, column: str) -> np.ndarray:
        """A list column as an (images, k) float array (k = passes or offsets)."""
        values = self.table.column(column).to_pylist()
        return np.array(values, dtype=np.float64).reshape(len(values), -1) if values else np.empty((0, 0))

    def per_image(self, column: str) -> np.ndarray:
        """Per-image values of a figure: the 0/1 value, or the mean of a list column."""
        if pa.types.is_list(self.table.schema.field(column).type):
            matrix = self.matrix(column)
            return matrix.mean(axis=1) if matrix.size else np.empty(len(matrix))  # no images: no values
        return self.table.column(column).to_numpy(zero_copy_only=False).astype(np.float64)


def split_by_model(table: pa.Table, models: list[str]) -> dict[str, ModelRows]:
    """Each model's rows of the images that were evaluated (rows without an error)."""
    ok = table.filter(pc.is_null(table.column("error")))
    return {name: ModelRows(ok.filter(pc.equal(ok.column("model"), name))) for name in models}


def summarize(
    table: pa.Table, models: list[str], measures: tuple[str, ...], class_name: Callable[[int], str]
) -> dict[str, Any]:
    """Every figure of every model, the diagonal curves, per-class figures and the paired comparisons."""
    figures = [f for f in FIGURES if f.measure in measures]
    rows = split_by_model(table, models)
    per_model = {}
    for name, model_rows in rows.items():
        per_model[name] = {
            "images": len(model_rows.index),
            "figures": {
                f.name: mean_estimate(model_rows.per_image(f.column), percent=f.percent).to_json() for f in figures
            },
            "diagonal": _diagonal_curves(model_rows) if "diagonal" in measures else None,
            "fractional": _fractional_curve(model_rows) if "fractional" in measures else None,
            "per_class": _per_class(model_rows, "consistency" in measures, class_name)
            if "accuracy" in measures
            else [],
            "sequences": _sequences(model_rows) if "sequence" in measures else None,
        }
        consistent = [c for c in per_model[name]["per_class"] if c.get("consistency") is not None]
        per_model[name]["least_consistent_classes"] = sorted(consistent, key=lambda c: c["consistency"]["value"])[
            :LEAST_CONSISTENT
        ]
    return {"models": per_model, "comparisons": _comparisons(rows, figures)}


def _diagonal_curves(rows: ModelRows) -> dict[str, list[float]]:
    """Mean p(true class) and top-1 / top-5 accuracy (percent) at each diagonal offset d = 0..32."""
    return {
        "offset": list(range(rows.matrix("diag_p_true").shape[1])),
        "p_true": (100 * rows.matrix("diag_p_true").mean(axis=0)).tolist(),
        "top1": (100 * rows.matrix("diag_correct1").mean(axis=0)).tolist(),
        "top5": (100 * rows.matrix("diag_correct5").mean(axis=0)).tolist(),
    }


def _fractional_curve(rows: ModelRows) -> dict[str, list[float]]:
    """The agreement with the unshifted view (percent) at each sub-pixel shift t of the fractional protocol."""
    shifts = [dy for dy, _ in make_plan(ProbeSpec(protocol="fractional")).offsets[1:]]
    return {"shift": shifts, "agree": (100 * rows.matrix("frac_agree").mean(axis=0)).tolist()}


def _sequences(rows: ModelRows) -> list[dict[str, Any]]:
    """Each sequence's metrics (as antialiased.sequences computes them), by its folder's name, in order."""
    columns = {key: rows.table.column(column).to_pylist() for key, column in SEQUENCE_COLUMNS.items()}
    names = rows.table.column("relpath").to_pylist()
    return [{"name": name, **{key: values[i] for key, values in columns.items()}} for i, name in enumerate(names)]


def _per_class(rows: ModelRows, with_consistency: bool, class_name: Callable[[int], str]) -> list[dict[str, Any]]:
    correct = rows.per_image("correct1")
    agree = rows.per_image("shift_agree") if with_consistency else None
    classes = []
    for label in np.unique(rows.label):
        mask = rows.label == label
        classes.append(
            {
                "label": int(label),
                "name": class_name(int(label)),
                "images": int(mask.sum()),
                "top1": mean_estimate(correct[mask]).to_json(),
                "consistency": mean_estimate(agree[mask]).to_json() if agree is not None else None,
            }
        )
    return classes


def _comparisons(rows: dict[str, ModelRows], figures: list[Figure]) -> list[dict[str, Any]]:
    """For each pair of models, each figure's paired difference (first − second) over the images both evaluated."""
    comparisons = []
    for (name_a, a), (name_b, b) in combinations(rows.items(), 2):
        common, in_a, in_b = np.intersect1d(a.index, b.index, return_indices=True)
        differences = {}
        for figure in figures:
            values_a, values_b = a.per_image(figure.column)[in_a], b.per_image(figure.column)[in_b]
            estimate: Estimate = paired_difference(values_a, values_b, percent=figure.percent)
            differences[figure.name] = {**estimate.to_json(), "significant": estimate.excludes_zero()}
        comparisons.append({"a": name_a, "b": name_b, "images": len(common), "differences": differences})
    return comparisons
