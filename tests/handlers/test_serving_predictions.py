"""A real TorchServe classifies real photos, and answers exactly what the library computes in-process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from skimage import data as skimage_data

from antialiased.labels import IMAGENET_CATEGORIES
from tests.support.served_models import BASELINE_MODEL, LPF_MODEL
from tests.support.serving import (
    PHOTOS,
    PROBABILITY_TOLERANCE,
    encode,
    photo,
    reference_network,
    reference_probabilities,
)

pytestmark = [pytest.mark.serving, pytest.mark.slow]


@pytest.mark.parametrize("name", PHOTOS)
def test_real_photo_is_classified_with_labels_and_model_info(torchserve, name):
    response = torchserve.predict(LPF_MODEL, encode(photo(name)))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == {
        "name": LPF_MODEL,
        "version": "1.0",
        "arch": "resnet50",
        "antialiased": True,
        "filter_size": 4,
        "num_classes": 1000,
    }
    assert answer["weights"]["untrained"] is True and answer["weights"]["name"] is None
    assert len(answer["weights"]["sha256"]) == 64
    topk = answer["topk"]
    assert len(topk) == 5
    assert [entry["label"] for entry in topk] == [IMAGENET_CATEGORIES[entry["index"]] for entry in topk]
    probabilities = [entry["probability"] for entry in topk]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6


def _probabilities_by_index(entries: list[dict]) -> dict[int, float]:
    return {entry["index"]: entry["probability"] for entry in entries}


@pytest.mark.parametrize("model", [LPF_MODEL, BASELINE_MODEL])
def test_served_probabilities_equal_the_in_process_library(torchserve, served_checkpoints, model):
    network = reference_network(model, served_checkpoints[model])
    for name in PHOTOS[:2]:
        image = encode(photo(name))
        response = torchserve.predict(model, image, topk="20")
        assert response.status_code == 200, response.text
        served = _probabilities_by_index(response.json()["topk"])
        expected = reference_probabilities(network, image)[0]
        assert list(served) == expected.topk(20).indices.tolist()
        difference = max(abs(p - expected[index].item()) for index, p in served.items())
        assert difference <= PROBABILITY_TOLERANCE, (name, difference)


def test_raw_body_and_multipart_give_the_same_answer(torchserve):
    image = encode(photo("coffee"))
    raw = httpx.post(f"{torchserve.inference_url}/predictions/{LPF_MODEL}", content=image, timeout=60)
    multipart = torchserve.predict(LPF_MODEL, image)
    assert raw.status_code == multipart.status_code == 200
    assert raw.json()["topk"] == multipart.json()["topk"]


def test_topk_from_header_with_raw_body_and_from_multipart_field(torchserve):
    image = encode(photo("rocket"))
    url = f"{torchserve.inference_url}/predictions/{LPF_MODEL}"
    raw = httpx.post(url, content=image, headers={"X-TopK": "3"}, timeout=60)
    assert raw.status_code == 200 and len(raw.json()["topk"]) == 3
    multipart = torchserve.predict(LPF_MODEL, image, topk="12")
    assert multipart.status_code == 200 and len(multipart.json()["topk"]) == 12
    assert multipart.json()["topk"][:3] == raw.json()["topk"]


@pytest.mark.parametrize("file_name", ["rocket.jpg", "retina.jpg", "hubble_deep_field.jpg", "logo.png"])
def test_real_image_files_are_classified_like_in_process(torchserve, served_checkpoints, file_name):
    body = (Path(skimage_data.data_dir) / file_name).read_bytes()  # files as cameras and tools wrote them
    response = torchserve.predict(LPF_MODEL, body)
    assert response.status_code == 200, response.text
    expected = reference_probabilities(reference_network(LPF_MODEL, served_checkpoints[LPF_MODEL]), body)[0]
    for entry in response.json()["topk"]:
        assert abs(entry["probability"] - expected[entry["index"]].item()) <= PROBABILITY_TOLERANCE
