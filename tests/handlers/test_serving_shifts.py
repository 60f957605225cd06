"""Shift requests through a real TorchServe: the same views and probabilities as the library in-process."""

from __future__ import annotations

import json

import pytest

from antialiased.serving.handler_client import ClientOptions, HandlerClient
from antialiased.shifts import MAX_VIEW_PIXELS_PER_REQUEST, ShiftRequest
from tests.support.served_models import CIRCULAR_MODEL, LPF_MODEL
from tests.support.serving import PROBABILITY_TOLERANCE, encode, photo, reference_network, reference_probabilities

pytestmark = [pytest.mark.serving, pytest.mark.slow]

CROP_SHIFTS = ShiftRequest(offsets=((0, 0), (1, 1), (7, 3), (31, 31), (16, 0)), mode="crop")
CIRCULAR_SHIFTS = ShiftRequest(offsets=((0, 0), (5, -3), (-32, 32), (100, 7)), mode="circular")


def _shift_answer(torchserve, model: str, image: bytes, request: ShiftRequest, topk: int = 5) -> dict:
    response = torchserve.predict(model, image, shifts=json.dumps(request.to_json()), topk=str(topk))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("request_", [CROP_SHIFTS, CIRCULAR_SHIFTS], ids=["crop", "circular"])
def test_shift_request_equals_in_process_shifted_views(torchserve, served_checkpoints, request_):
    image = encode(photo("astronaut"))
    answer = _shift_answer(torchserve, LPF_MODEL, image, request_, topk=10)
    expected = reference_probabilities(reference_network(LPF_MODEL, served_checkpoints[LPF_MODEL]), image, request_)

    assert answer["shift"] == {key: value for key, value in request_.to_json().items() if key != "offsets"}
    assert [tuple(entry["offset"]) for entry in answer["shifts"]] == list(request_.offsets)
    for row, entry in enumerate(answer["shifts"]):
        assert [t["index"] for t in entry["topk"]] == expected[row].topk(10).indices.tolist()
        for t in entry["topk"]:
            assert abs(t["probability"] - expected[row, t["index"]].item()) <= PROBABILITY_TOLERANCE
    top1 = {entry["topk"][0]["index"] for entry in answer["shifts"]}
    assert set(map(int, answer["class_probabilities"])) == top1
    for index, curve in answer["class_probabilities"].items():
        assert curve == pytest.approx(expected[:, int(index)].tolist(), abs=PROBABILITY_TOLERANCE)


def test_circular_invariant_model_gives_one_answer_at_every_circular_shift(torchserve):
    answer = _shift_answer(torchserve, CIRCULAR_MODEL, encode(photo("coffee")), CIRCULAR_SHIFTS)
    (curve,) = answer["class_probabilities"].values()  # one class is top-1 at every shift
    assert max(curve) - min(curve) < 1e-6
    first = answer["shifts"][0]["topk"]
    for entry in answer["shifts"][1:]:
        assert [t["index"] for t in entry["topk"]] == [t["index"] for t in first]


def test_plain_request_equals_the_zero_circular_shift(torchserve):
    image = encode(photo("chelsea"))
    plain = torchserve.predict(LPF_MODEL, image).json()["topk"]
    shifted = _shift_answer(torchserve, LPF_MODEL, image, ShiftRequest(offsets=((0, 0),), mode="circular"))
    assert [t["index"] for t in shifted["shifts"][0]["topk"]] == [t["index"] for t in plain]
    for a, b in zip(shifted["shifts"][0]["topk"], plain, strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=PROBABILITY_TOLERANCE)


def test_a_shift_request_beyond_one_request_is_refused_at_once_and_the_client_sends_it_in_chunks(
    torchserve, served_checkpoints
):
    """800 views of 64 x 64 hold more view pixels than one request may (a worst-case probe held the worker a minute
    as one request): TorchServe refuses the request with a 413 naming the limit; the contract's client sends it as
    two requests (784 + 16 views, each with every class's probability) and joins their answers into the one the
    whole request would have had, equal to the in-process views."""
    offsets = tuple((dy, dx) for dy in range(32) for dx in range(25))
    request = ShiftRequest(offsets=offsets, mode="circular", crop_size=64, resize_size=64)
    assert request.view_pixels > MAX_VIEW_PIXELS_PER_REQUEST and len(request.chunks(MAX_VIEW_PIXELS_PER_REQUEST)) == 2
    image = encode(photo("coffee"))
    refused = torchserve.predict(CIRCULAR_MODEL, image, shifts=json.dumps(request.to_json()))
    with HandlerClient(ClientOptions(torchserve.inference_url, headers=torchserve.headers)) as client:
        answer = client.classify_shifts(CIRCULAR_MODEL, image, request, topk=3)
    expected = reference_probabilities(
        reference_network(CIRCULAR_MODEL, served_checkpoints[CIRCULAR_MODEL]), image, request
    )
    assert refused.status_code == 413 and refused.json()["code"] == "too_many_pixels", refused.text
    assert "max_view_pixels_per_request" in refused.json()["message"]
    assert [tuple(shift.offset) for shift in answer.shifts] == list(offsets) and answer.probabilities is None
    for row, shift in enumerate(answer.shifts):
        assert [t.index for t in shift.topk] == expected[row].topk(3).indices.tolist()
    top1 = set(expected.argmax(dim=1).tolist())
    assert set(map(int, answer.class_probabilities)) == top1
    for index, curve in answer.class_probabilities.items():
        assert curve == pytest.approx(expected[:, int(index)].tolist(), abs=PROBABILITY_TOLERANCE)
