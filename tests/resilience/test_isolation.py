"""A request whose forward pass fails fails alone: the others of its TorchServe batch are answered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from handlers.image_classifier import BATCH_ID_HEADER
from launcher.torchserve import TorchServe
from tests.support.resilience import WHITE_INTOLERANT_MODEL
from tests.support.serving import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]

PHOTO = encode(photo("coffee"))
WHITE = encode(np.full((300, 300, 3), 255, np.uint8), "PNG")  # the model raises on it
ATTEMPTS = 3  # bursts until the white request shares a batch with others (TorchServe batches by arrival)


def _burst(torchserve: TorchServe, bodies: list[bytes]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda body: torchserve.predict(WHITE_INTOLERANT_MODEL, body), bodies))


def test_a_request_whose_forward_pass_raises_fails_alone_and_its_batch_is_answered(
    fragile_torchserve: TorchServe,
) -> None:
    bodies = [PHOTO, PHOTO, PHOTO, WHITE, PHOTO, PHOTO, PHOTO]
    shared = False
    for _ in range(ATTEMPTS):
        responses = _burst(fragile_torchserve, bodies)
        assert [r.status_code for r in responses] == [200, 200, 200, 500, 200, 200, 200], [r.text for r in responses]
        failed = responses[3]
        assert failed.headers["content-type"].startswith("application/json")
        assert failed.json()["code"] == "internal_error" and "model failed" in failed.json()["message"]
        assert all(len(r.json()["topk"]) == 5 for r in responses if r.status_code == 200)
        others = {r.headers[BATCH_ID_HEADER] for r in responses if r.status_code == 200}
        if failed.headers[BATCH_ID_HEADER] in others:
            shared = True
            break
    assert shared, "the failing request never shared a batch with the others"
    assert fragile_torchserve.predict(WHITE_INTOLERANT_MODEL, PHOTO).status_code == 200, "the worker goes on"
