"""A tiny antialiased classifier for the export tests that need an exported file but not a zoo network: a small CNN
rewritten by `antialias` (a MaxBlurPool and a blurred strided convolution), 32x32 inputs, five classes."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from antialiased import antialias
from antialiased.export.onnx import export_onnx
from antialiased.export.source import ExportSource
from antialiased.label_sets import LabelSet
from antialiased.preprocessing import Preprocessing

SIZE = 32
LABELS = LabelSet.of_names(["ant", "bee", "cicada", "dragonfly", "earwig"])
PREPROCESSING = Preprocessing(resize_size=36, crop_size=SIZE, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def tiny_network(classes: int = len(LABELS)) -> nn.Module:
    network = nn.Sequential(
        *(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        *(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()),
        *(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes)),
    )
    return antialias(network, input_shape=(1, 3, SIZE, SIZE), pool_only=False).model.eval()


def tiny_source(network: nn.Module | None = None, name: str = "tiny_lpf4", labels: LabelSet = LABELS) -> ExportSource:
    """The tiny network (or `network`) as what the export command exports."""
    return ExportSource(name, network or tiny_network(), labels, "tiny", 4, PREPROCESSING)


def export_tiny(path: Path, network: nn.Module | None = None) -> Path:
    return export_onnx(tiny_source(network), path)
