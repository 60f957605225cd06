"""The run's plots as PNG bytes (matplotlib figures rendered by Agg, without pyplot: no display, no global state).

- accuracy vs consistency, as the paper draws it ("up and to the right is good"): the user's models with
  their 95% intervals, beside the published models of the weights registry (ImageNet validation figures);
- the diagonal curves: p(true class) and top-1 accuracy at each offset d = 0..32, one line per model;
- the sub-pixel curve: agreement with the unshifted view at each Fourier shift (t, t), one line per model.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from antialiased.weights import list_entries


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def accuracy_consistency_png(models: dict[str, Any]) -> bytes:
    """Consistency (y) against top-1 accuracy (x): the run's models and the registry's published ones."""
    figure = Figure(figsize=(7.5, 5.5), dpi=110, layout="tight")
    axes = figure.subplots()
    published = [e for e in list_entries() if e.accuracy is not None and e.consistency is not None]
    axes.scatter(
        [e.accuracy for e in published],
        [e.consistency for e in published],
        color="0.6",
        marker="o",
        s=18,
        label="published (ImageNet val, weights registry)",
    )
    for entry in published:
        if entry.arch == "resnet50":  # the paper's headline models; labelling all of them would be unreadable
            axes.annotate(entry.name, (entry.accuracy, entry.consistency), fontsize=6, color="0.35")
    for name, model in models.items():
        top1, consistency = model["figures"]["top1"], model["figures"].get("consistency")
        if consistency is None or None in (top1["value"], consistency["value"]):  # not measured, or no image read
            continue
        axes.errorbar(
            top1["value"],
            consistency["value"],
            xerr=[[top1["value"] - top1["ci_low"]], [top1["ci_high"] - top1["value"]]],
            yerr=[[consistency["value"] - consistency["ci_low"]], [consistency["ci_high"] - consistency["value"]]],
            fmt="s",
            capsize=3,
            markersize=7,
            label=f"{name} (this run, 95% CI)",
        )
    axes.set_xlabel("top-1 accuracy (%)")
    axes.set_ylabel("consistency (%)")
    axes.set_title("Accuracy vs shift consistency (up and to the right is good)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    return _png(figure)


def diagonal_png(models: dict[str, Any]) -> bytes:
    """p(true class) and top-1 accuracy against the diagonal offset, one line per model."""
    figure = Figure(figsize=(11, 4.2), dpi=110, layout="tight")
    p_axes, acc_axes = figure.subplots(1, 2)
    for name, model in models.items():
        curves = model["diagonal"]
        p_axes.plot(curves["offset"], curves["p_true"], marker=".", label=name)
        acc_axes.plot(curves["offset"], curves["top1"], marker=".", label=name)
    p_axes.set_ylabel("mean p(true class) (%)")
    acc_axes.set_ylabel("top-1 accuracy (%)")
    for axes in (p_axes, acc_axes):
        axes.set_xlabel("diagonal offset d (crop at (d, d) of the 256 center crop)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.suptitle("Diagonal shifts")
    return _png(figure)


def fractional_png(models: dict[str, Any]) -> bytes:
    """Agreement (percent) with the unshifted view against the sub-pixel shift t, one line per model."""
    figure = Figure(figsize=(6, 4.2), dpi=110, layout="tight")
    axes = figure.subplots()
    for name, model in models.items():
        curve = model["fractional"]
        axes.plot(curve["shift"], curve["agree"], marker="o", label=name)
    axes.set_xlabel("shift t in pixels, on both axes (Fourier, circular)")
    axes.set_ylabel("top-1 agrees with the unshifted view (%)")
    axes.set_title("Sub-pixel shifts")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return _png(figure)
