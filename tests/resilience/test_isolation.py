"""A request whose forward pass fails fails alone: the others of its TorchServe batch are answered."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from launcher.torchserve import TorchServe
from tests.support.resilience import WHITE_INTOLERANT_MODEL
from tests.support.serving import burst_until, encode, photo, shares_a_batch

pytestmark = [pytest.mark.serving, pytest.mark.slow]

PHOTO = encode(photo("coffee"))
WHITE = encode(np.full((300, 300, 3), 255, np.uint8), "PNG")  # the model raises on it


def test_a_request_whose_forward_pass_raises_fails_alone_and_its_batch_is_answered(
    fragile_torchserve: TorchServe,
) -> None:
    bodies = [PHOTO, PHOTO, PHOTO, WHITE, PHOTO, PHOTO, PHOTO]
    send = functools.partial(fragile_torchserve.predict, WHITE_INTOLERANT_MODEL)
    responses = burst_until(send, bodies, lambda answers: shares_a_batch(answers, 3))
    assert [r.status_code for r in responses] == [200, 200, 200, 500, 200, 200, 200], [r.text for r in responses]
    failed = responses[3]
    assert failed.headers["content-type"].startswith("application/json")
    assert failed.json()["code"] == "internal_error" and "model failed" in failed.json()["message"]
    assert all(len(r.json()["topk"]) == 5 for r in responses if r.status_code == 200)
    assert fragile_torchserve.predict(WHITE_INTOLERANT_MODEL, PHOTO).status_code == 200, "the worker goes on"
