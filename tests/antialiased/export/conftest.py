"""The ResNet50 pair of the export tests, exported once per session: the antialiased ResNet50 (filter 4) and
torchvision's, random weights with spread logits (tests/support/export.py), each with its ONNX file."""

from __future__ import annotations

import pytest

from antialiased.export.onnx import export_onnx
from antialiased.export.source import ExportSource
from antialiased.label_sets import IMAGENET
from antialiased.models import create_baseline, create_model
from tests.support.export import Exported, photo_batch, seeded, spread_logits_

PAIR = {
    "resnet50_lpf4": (lambda: create_model("resnet50", 4), 4),
    "resnet50": (lambda: create_baseline("resnet50"), None),
}


@pytest.fixture(scope="session")
def resnet50_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """Name -> the eager network (eval mode) and its ONNX file."""
    directory = tmp_path_factory.mktemp("resnet50_pair")
    photos = photo_batch()
    exported = {}
    for name, (build, filter_size) in PAIR.items():
        model = spread_logits_(seeded(build), photos)
        source = ExportSource(name, model, IMAGENET, "resnet50", filter_size)
        exported[name] = Exported(model, export_onnx(source, directory / f"{name}.onnx"))
    return exported


@pytest.fixture(scope="session")
def antialiased_resnet50(resnet50_pair: dict[str, Exported]) -> Exported:
    return resnet50_pair["resnet50_lpf4"]
