"""The formats of `python -m antialiased.export`: format name -> the writer that writes an `ExportSource` into a
folder and returns the paths it wrote. Each format is offered only with a test that its files compute what the
eager network computes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from antialiased.export.pt2 import write_pt2
from antialiased.export.source import ExportSource
from antialiased.export.writers import write_onnx, write_triton

Writer = Callable[[ExportSource, Path], list[Path]]

FORMATS: dict[str, Writer] = {
    "pt2": write_pt2,
    "onnx": write_onnx,
    "triton": write_triton,
}
