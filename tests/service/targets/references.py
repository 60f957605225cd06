"""In-process references of the target tests: the library's crops of the photo through the same classifiers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from ts.torch_handler.image_classifier import ImageClassifier as StockHandler

from antialiased.images import decode_image
from antialiased.protocols import ProbeSpec, make_plan
from antialiased.transforms import resize_center_crop, shifted_views
from tests.service.targets import tiny_classifier
from tests.support.service import MAX_OFFSETS, SAMPLES
from tests.support.targets import stock_network

CAT = (SAMPLES / "chelsea.jpg").read_bytes()


@torch.inference_mode()
def stock_reference(weights: Path, spec: ProbeSpec) -> torch.Tensor:
    """In process: the library's crops of the photo, each through the stock handler's own preprocessing (it resizes
    and center-crops what it gets) and the same ResNet-18, softmax: (views, 1000)."""
    network = stock_network()
    network.load_state_dict(torch.load(weights, weights_only=True))
    request = make_plan(spec, MAX_OFFSETS).request
    base = resize_center_crop(decode_image(CAT), request.base_size, request.resize_size).permute(1, 2, 0).numpy()
    size = request.crop_size
    crops = [Image.fromarray(base[dy : dy + size, dx : dx + size]) for dy, dx in request.offsets]
    return network(torch.stack([StockHandler.image_processing(crop) for crop in crops])).softmax(dim=1)


def tiny_reference(spec: ProbeSpec) -> np.ndarray:
    """In process: the library's normalised views of the photo through the tiny classifier: (views, 10)."""
    views = shifted_views(decode_image(CAT), make_plan(spec, MAX_OFFSETS).request)
    return tiny_classifier.probabilities(views.numpy())


def assert_shifts_match(shifts: list[dict], expected: np.ndarray, tolerance: float) -> None:
    """Each shift's answered top-k (indices, in order) and probabilities are the reference row's."""
    assert len(shifts) == len(expected)
    for shift, row in zip(shifts, np.asarray(expected), strict=True):
        top = np.argsort(-row, kind="stable")[: len(shift["topk"])]
        assert [p["index"] for p in shift["topk"]] == top.tolist()
        assert [p["probability"] for p in shift["topk"]] == pytest.approx(row[top].tolist(), abs=tolerance)
