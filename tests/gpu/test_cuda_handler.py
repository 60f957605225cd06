"""The TorchServe handler on CUDA in bfloat16 (JPEG decoded on the GPU) against the CPU float32 model."""

from __future__ import annotations

import json

import pytest
import torch

from antialiased.shifts import ShiftRequest
from handlers.image_classifier import ImageClassifier
from tests.gpu.cuda import assert_same_prediction, cuda_device
from tests.support.served_models import LPF_MODEL, MODEL_SPECS
from tests.support.serving import (
    PHOTOS,
    encode,
    handle_batch,
    handler_context,
    photo,
    reference_network,
    reference_probabilities,
)

pytestmark = pytest.mark.gpu

CUDA_BF16 = {"handler": {"device": "cuda", "precision": "bfloat16"}}
TOPK = "20"  # the template's max_topk: every returned probability is compared


def _answers(checkpoint, device: torch.device, rows: list[dict]) -> list[dict]:
    """The answers of a handler on `device` in bfloat16 to one batch of `rows`; each must be a 200."""
    context = handler_context(LPF_MODEL, checkpoint, MODEL_SPECS[LPF_MODEL], CUDA_BF16, gpu_id=device.index)
    handler = ImageClassifier()
    handler.initialize(context)
    assert handler.device == device
    results = handle_batch(handler, context, rows)
    assert [status for status, _ in results] == [200] * len(rows), results
    return [answer for _, answer in results]


def test_handler_on_cuda_in_bfloat16_matches_the_cpu_float32_model(tempered_checkpoint, record_property):
    model = reference_network(LPF_MODEL, tempered_checkpoint)
    images = {name: encode(photo(name)) for name in PHOTOS}
    expected = {name: reference_probabilities(model, data)[0] for name, data in images.items()}

    device = cuda_device()
    answers = _answers(
        tempered_checkpoint, device, [{"data": bytearray(data), "topk": TOPK} for data in images.values()]
    )
    worst = max(
        assert_same_prediction(answer["topk"], expected[name], name)
        for name, answer in zip(images, answers, strict=True)
    )
    record_property("photos", len(images))
    record_property("max_probability_difference", round(worst, 5))


@pytest.mark.parametrize(
    "shifts",
    [
        ShiftRequest(offsets=((0, 0), (1, 1), (7, 3), (31, 31), (16, 0)), mode="crop"),
        ShiftRequest(offsets=((0, 0), (5, -3), (-32, 32), (100, 7)), mode="circular"),
    ],
    ids=["crop", "circular"],
)
def test_shift_request_on_cuda_matches_the_cpu_shifted_views(tempered_checkpoint, shifts, record_property):
    image = encode(photo("astronaut"))
    expected = reference_probabilities(reference_network(LPF_MODEL, tempered_checkpoint), image, shifts)

    device = cuda_device()
    (answer,) = _answers(
        tempered_checkpoint, device, [{"data": bytearray(image), "shifts": json.dumps(shifts.to_json()), "topk": TOPK}]
    )
    assert [tuple(entry["offset"]) for entry in answer["shifts"]] == list(shifts.offsets)
    worst = max(
        assert_same_prediction(entry["topk"], expected[row], f"offset {tuple(entry['offset'])}")
        for row, entry in enumerate(answer["shifts"])
    )
    record_property("shifts", len(shifts.offsets))
    record_property("max_probability_difference", round(worst, 5))
