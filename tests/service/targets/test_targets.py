"""The probe service probes classifiers it did not write: TorchServe's stock image_classifier and KServe's model
server, with results equal to an in-process computation on the same crops; misbehaving targets get 502/504."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from antialiased.protocols import ProbeSpec, make_plan
from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.service.targets import tiny_classifier
from tests.service.targets.references import (
    CAT,
    assert_shifts_match,
    frame_crops,
    stock_probabilities,
    stock_reference,
    tiny_reference,
)
from tests.support.sequence_metrics import assert_sequence_metrics
from tests.support.service import MAX_OFFSETS, http_client
from tests.support.serving import encode, photo, png_ending_early
from tests.support.targets import SLOW_TIMEOUT_S

pytestmark = [pytest.mark.serving, pytest.mark.slow]


def probe(service: ServiceProcess, endpoint: str, **params: object) -> httpx.Response:
    with http_client(service) as client:
        return client.post(endpoint, params=params, content=CAT)


def test_stock_torchserve_model_answers_as_in_process_on_the_same_crops(
    target_service: ServiceProcess, stock_torchserve: tuple[TorchServe, Path]
) -> None:
    spec = ProbeSpec(protocol="paper", pairs=3, seed=4)
    response = probe(target_service, "/v1/stability", model="stock", protocol="paper", pairs=3, seed=4, topk=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["target"] == "stock" and body["target_kind"] == "torchserve" and body["model"] is None
    assert body["protocol"] == "torchserve", "the deprecated name of target_kind, still sent for one release"
    expected = stock_reference(stock_torchserve[1], spec)
    assert len(body["shifts"]) == len(make_plan(spec, MAX_OFFSETS).offsets)
    # Each view is its own TorchServe batch, the reference one batch of all views: float rounding differs.
    assert_shifts_match(body["shifts"], expected.numpy(), 1e-5)
    assert body["shifts"][0]["topk"][0]["probability"] > 10 / 1000, "far from uniform: the comparison means something"


@pytest.mark.parametrize("protocol", ["grid", "circular"])
def test_kserve_models_answer_as_in_process_for_fp32_uint8_and_png_inputs(
    target_service: ServiceProcess, protocol: str
) -> None:
    parameters = {"protocol": protocol, "step": 16, "pairs": 4, "seed": 2, "topk": 10}
    response = probe(target_service, "/v1/compare", models="tiny_fp32,tiny_uint8,tiny_png", **parameters)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = tiny_reference(ProbeSpec(**{k: v for k, v in parameters.items() if k != "topk"}))
    assert [r["target"] for r in body["results"]] == ["tiny_fp32", "tiny_uint8", "tiny_png"]
    for result in body["results"]:
        assert result["target_kind"] == "oip"
        assert_shifts_match(result["shifts"], expected, 1e-6)
        assert all(p["label"] == tiny_classifier.LABELS[p["index"]] for s in result["shifts"] for p in s["topk"])
        for cls, curve in result["class_probabilities"].items():
            assert curve == pytest.approx(expected[:, int(cls)].tolist(), abs=1e-6)


def test_compare_puts_ours_the_stock_torchserve_and_kserve_side_by_side_on_the_same_offsets(
    target_service: ServiceProcess,
) -> None:
    response = probe(target_service, "/v1/compare", models="resnet50_lpf4,stock,tiny_png", protocol="diagonal",
                     max_shift=3)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"]["offsets"] == [[d, d] for d in range(4)]
    assert [(r["target"], r["target_kind"]) for r in body["results"]] == [
        ("resnet50_lpf4", "ours"),
        ("stock", "torchserve"),
        ("tiny_png", "oip"),
    ]
    for result in body["results"]:
        assert [s["offset"] for s in result["shifts"]] == body["plan"]["offsets"]
        assert 0.0 <= result["score"] <= 1.0
    assert body["results"][0]["model"]["antialiased"] is True
    with http_client(target_service) as client:
        assert "tiny_png" in client.get("/v1/config").json()["models"]


def test_a_sequence_through_the_stock_torchserve_and_kserve_answers_as_in_process_on_the_same_frames(
    target_service: ServiceProcess, stock_torchserve: tuple[TorchServe, Path]
) -> None:
    """/v1/sequence on `torchserve` and `oip` targets: each frame's top-k is the in-process model's on the library's
    center crop of that frame, and the sequence metrics are those of the in-process probabilities (the stock handler
    answers only its top 5, so its majority curve is not known: top-1 metrics only)."""
    pixels = photo("chelsea")
    frames = [encode(pixels[20:280, 24 * k : 24 * k + 260], "PNG") for k in range(4)]  # a pan, 24 px a frame
    files = [("frame", (f"{k}.png", frame, "image/png")) for k, frame in enumerate(frames)]
    with http_client(target_service) as client:
        response = client.post("/v1/sequence", params={"models": "stock,tiny_fp32,tiny_png", "topk": 5}, files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["target"], r["target_kind"]) for r in results] == [
        ("stock", "torchserve"),
        ("tiny_fp32", "oip"),
        ("tiny_png", "oip"),
    ]
    crops = frame_crops(frames)
    stock = stock_probabilities(stock_torchserve[1], crops).numpy()
    tiny = tiny_classifier.probabilities(tiny_classifier.normalize(np.stack(crops)))
    assert_shifts_match([{"topk": frame} for frame in results[0]["frames"]], stock, 1e-5)
    assert_sequence_metrics(results[0], stock, 1e-5, curve=False)
    assert stock.max() > 10 / 1000, "far from uniform: the comparison means something"
    for result in results[1:]:
        assert_shifts_match([{"topk": frame} for frame in result["frames"]], tiny, 1e-6)
        assert_sequence_metrics(result, tiny, 1e-6)
    assert len(set(tiny.argmax(axis=1).tolist())) > 1, "the top-1 changes along the pan: the flip rate is not 0"


MISBEHAVING = {
    # target: (status, code, words of the message)
    "error": (502, "target_error", "answered HTTP 500"),
    "not_json": (502, "target_error", "malformed"),
    "wrong_classes": (502, "target_error", "not one row of 10 classes per view"),
    "no_output": (502, "target_error", "no output 'output'"),
    "lying_size": (502, "target_error", "binary_data_size"),
    "slow": (504, "target_timeout", f"within {SLOW_TIMEOUT_S:g} s"),
    "unreachable": (502, "target_error", "cannot be reached"),
    "unknown_label": (502, "target_error", "not in its label list"),
}


@pytest.mark.parametrize(("target", "status", "code", "words"), [(t, *v) for t, v in MISBEHAVING.items()])
def test_a_misbehaving_target_is_a_502_or_504_naming_it(
    target_service: ServiceProcess, target: str, status: int, code: str, words: str
) -> None:
    response = probe(target_service, "/v1/stability", model=target, protocol="diagonal", max_shift=3)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert f"target {target} " in response.json()["message"] and words in response.json()["message"]
    with http_client(target_service) as client:
        assert client.get("/healthz").status_code == 200, "the service stays up"


def test_a_compare_with_one_failing_target_names_that_target(target_service: ServiceProcess) -> None:
    response = probe(target_service, "/v1/compare", models="tiny_fp32,wrong_classes", protocol="diagonal", max_shift=1)
    assert response.status_code == 502
    assert response.json()["message"].startswith("target wrong_classes ")


@pytest.mark.parametrize("kind", ["truncated_jpeg", "png_data_ends_early"])
def test_a_corrupt_image_is_refused_by_the_services_strict_decoder(target_service: ServiceProcess, kind: str) -> None:
    """The service cuts the views for these targets itself: a PNG whose zlib stream ends cleanly after 100 of its
    300 rows is refused, not cut from black rows."""
    data = CAT[: len(CAT) // 2] if kind == "truncated_jpeg" else png_ending_early(photo("chelsea"), 100 / 300)
    with http_client(target_service) as client:
        truncated = client.post("/v1/stability", params={"model": "tiny_fp32"}, content=data)
    assert truncated.status_code == 400
    assert truncated.json()["code"] == "invalid_image"
