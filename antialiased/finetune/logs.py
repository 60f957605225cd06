"""The run's record: one JSON line per step (steps.jsonl) and per epoch (epochs.jsonl, with the validation
figures), and a plot of both (progress.png). Written by the main process only."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

STEPS_FILE = "steps.jsonl"
EPOCHS_FILE = "epochs.jsonl"
PLOT_FILE = "progress.png"


class RunLog:
    """Appends records to the run folder's JSON lines; a resumed run first drops what came after its state."""

    def __init__(self, directory: Path, step: int, epoch: int) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        _keep(directory / STEPS_FILE, lambda record: record["step"] <= step)
        _keep(directory / EPOCHS_FILE, lambda record: record["epoch"] < epoch)

    def step(self, record: dict[str, Any]) -> None:
        _append(self.directory / STEPS_FILE, record)

    def epoch(self, record: dict[str, Any]) -> None:
        _append(self.directory / EPOCHS_FILE, record)
        (self.directory / PLOT_FILE).write_bytes(progress_png(read_records(self.directory / STEPS_FILE),
                                                              read_records(self.directory / EPOCHS_FILE)))  # fmt: skip


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON lines file ([] when there is none)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as file:
        file.write(json.dumps(record, allow_nan=False) + "\n")  # NaN is not JSON: the loop stops before it


def _keep(path: Path, wanted) -> None:
    records = read_records(path)
    path.write_text("".join(json.dumps(record) + "\n" for record in records if wanted(record)))


def progress_png(steps: list[dict[str, Any]], epochs: list[dict[str, Any]]) -> bytes:
    """Training loss by step; validation top-1 and consistency by epoch (when validated)."""
    figure = Figure(figsize=(11, 4), dpi=100, layout="tight")
    loss, figures = figure.subplots(1, 2)
    loss.plot([s["step"] for s in steps], [s["loss"] for s in steps], linewidth=0.8)
    loss.set(xlabel="step", ylabel="training loss", title="loss")
    validated = [e for e in epochs if e.get("val")]
    for name in ("top1", "consistency"):
        figures.plot(
            [e["epoch"] + 1 for e in validated], [e["val"][name]["value"] for e in validated], "o-", label=name
        )
    figures.set(xlabel="epoch", ylabel="%", title="validation (paper-mode consistency)")
    figures.legend()
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
