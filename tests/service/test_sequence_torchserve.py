"""/v1/sequence through the real service in front of the real TorchServe: each frame's top-k and probabilities are
the in-process model's on the same bytes, and the sequence metrics are computed here again from those probabilities,
by their definitions (flip rate, majority class and its share, its curve, the wobble), not by the library."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from launcher.probe_service import ServiceProcess
from tests.support.served_models import LPF_MODEL
from tests.support.service import http_client
from tests.support.serving import PROBABILITY_TOLERANCE, encode, photo, reference_network, reference_probabilities

pytestmark = [pytest.mark.serving, pytest.mark.slow]


def test_sequence_numbers_are_the_in_process_models(service: ServiceProcess, served_checkpoints: dict[str, Path]):
    pixels = photo("astronaut")
    frames = [encode(pixels[40:400, 12 * k : 12 * k + 360], "PNG") for k in range(4)]  # a pan, 12 px a frame
    files = [("frame", (f"{k}.png", frame, "image/png")) for k, frame in enumerate(frames)]
    with http_client(service) as client:
        response = client.post("/v1/sequence", params={"models": LPF_MODEL}, files=files)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]

    network = reference_network(LPF_MODEL, served_checkpoints[LPF_MODEL])
    expected = np.stack([reference_probabilities(network, frame)[0].numpy() for frame in frames])
    for served, probabilities in zip(result["frames"], expected, strict=True):
        assert [entry["index"] for entry in served] == list(np.argsort(-probabilities)[: len(served)])
        for entry in served:
            assert entry["probability"] == pytest.approx(probabilities[entry["index"]], abs=PROBABILITY_TOLERANCE)

    top1 = expected.argmax(axis=1)
    (majority, count), *_ = Counter(top1.tolist()).most_common()
    curve = expected[:, majority]
    metrics = result["metrics"]
    assert metrics["frames"] == len(frames)
    assert metrics["flip_rate"] == pytest.approx(np.mean(top1[1:] != top1[:-1]))
    assert (metrics["majority_class"], metrics["majority_share"]) == (majority, pytest.approx(count / len(frames)))
    assert metrics["curve"] == pytest.approx(curve.tolist(), abs=PROBABILITY_TOLERANCE)
    assert metrics["wobble"] == pytest.approx(np.abs(np.diff(curve)).mean(), abs=PROBABILITY_TOLERANCE)
    assert result["class_probabilities"][str(majority)] == pytest.approx(curve.tolist(), abs=PROBABILITY_TOLERANCE)
