"""The Open Inference Protocol at /v2, through the real service in front of the real TorchServe: tritonclient (binary
and JSON tensor data) for health, metadata and inference, answers equal to `/predictions`, and bad requests as
4xx `{"error": ...}` that never hurt a worker."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.support.access_log import prediction_requests
from tests.support.service import SAMPLES, http_client, wait_until_ready
from tests.support.serving import encode, photo, png_declaring, png_ending_early

pytestmark = [pytest.mark.serving, pytest.mark.slow]

MODEL = "resnet50_lpf4"
TOLERANCE = 1e-6


def triton_client(service: ServiceProcess) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(service.url.removeprefix("http://"), network_timeout=120.0)


def image_input(images: list[bytes], binary: bool) -> triton.InferInput:
    tensor = triton.InferInput("image", [len(images)], "BYTES")
    data = images if binary else [base64.b64encode(image) for image in images]  # the JSON form carries base64
    tensor.set_data_from_numpy(np.array(data, dtype=object), binary_data=binary)
    return tensor


def predictions(torchserve: TorchServe, image: bytes) -> dict:
    response = torchserve.predict(MODEL, image, timeout=120, probabilities="true")
    assert response.status_code == 200, response.text
    return response.json()


def test_tritonclient_sees_a_live_ready_server_and_the_model_metadata(service: ServiceProcess) -> None:
    client = triton_client(service)
    assert client.is_server_live()
    wait_until_ready(service)
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert not client.is_model_ready("resnet9000")
    server = client.get_server_metadata()
    assert {"binary_tensor_data", "classification"} <= set(server["extensions"])
    metadata = client.get_model_metadata(MODEL)
    assert metadata["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert metadata["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 1000]}]
    config = client.get_model_config(MODEL)
    assert config["max_batch_size"] == 0 and config["input"][0]["data_type"] == "TYPE_STRING"
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.get_model_metadata("resnet9000")


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("name", ["chelsea.jpg", "coffee.jpg"])
def test_tritonclient_inference_equals_predictions(
    service: ServiceProcess, torchserve: TorchServe, name: str, binary: bool
) -> None:
    """One image, alone in its TorchServe batch as the `/predictions` request it is compared with."""
    image = (SAMPLES / name).read_bytes()
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=binary)]
    result = triton_client(service).infer(MODEL, [image_input([image], binary)], outputs=outputs, request_id="r7")
    response = result.get_response()
    assert response["id"] == "r7" and response["model_name"] == MODEL and response["model_version"] == "1.0"
    assert [o.get("parameters", {}).get("binary_data_size") is not None for o in response["outputs"]] == [binary]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float32 and probabilities.shape == (1, 1000)
    np.testing.assert_allclose(
        probabilities[0], predictions(torchserve, image)["probabilities"], rtol=0, atol=TOLERANCE
    )


def test_a_batch_is_one_torchserve_request_per_image_and_each_row_is_that_images_answer(
    service: ServiceProcess, torchserve: TorchServe, cat_jpeg: bytes, coffee_jpeg: bytes
) -> None:
    """The images of one inference request reach TorchServe at once, so they may share a forward pass: a convolution
    over a batch of 3 rounds differently from one over a single image (measured: up to 1.4e-6), hence 1e-5 here."""
    images = [cat_jpeg, coffee_jpeg, encode(photo("rocket"), "PNG")]
    before = len(prediction_requests(torchserve, MODEL))
    result = triton_client(service).infer(MODEL, [image_input(images, binary=True)])
    after = len(prediction_requests(torchserve, MODEL))
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (3, 1000)
    assert after - before == 3, "one TorchServe request per image"
    for row, image in zip(probabilities, images, strict=True):
        expected = predictions(torchserve, image)
        np.testing.assert_allclose(row, expected["probabilities"], rtol=0, atol=1e-5)
        assert int(row.argmax()) == expected["topk"][0]["index"]


def test_classification_extension_answers_the_top_classes_of_predictions(
    service: ServiceProcess, torchserve: TorchServe, cat_jpeg: bytes
) -> None:
    output = triton.InferRequestedOutput("probabilities", class_count=5)
    result = triton_client(service).infer(MODEL, [image_input([cat_jpeg], binary=True)], outputs=[output])
    top = [entry.decode().split(":") for entry in result.as_numpy("probabilities")[0]]
    expected = predictions(torchserve, cat_jpeg)["topk"]
    assert [int(index) for _, index, _ in top] == [p["index"] for p in expected]
    assert [label for _, _, label in top] == [p["label"] for p in expected]
    assert [float(value) for value, _, _ in top] == pytest.approx([p["probability"] for p in expected], abs=TOLERANCE)


def _body(inputs: list[dict], binary: bytes = b"", **request: object) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({"inputs": inputs, **request}).encode()
    if not binary:
        return header, {"Content-Type": "application/json"}
    return header + binary, {"Inference-Header-Content-Length": str(len(header))}


def _element(data: bytes) -> bytes:
    return len(data).to_bytes(4, "little") + data


def _bytes_input(data: bytes, shape: list[int] | None = None, size: int | None = None) -> dict:
    shape = [1] if shape is None else shape
    return {"name": "image", "shape": shape, "datatype": "BYTES", "parameters": {"binary_data_size": size or len(data)}}


JPEG = _element((SAMPLES / "chelsea.jpg").read_bytes())  # one BYTES element: a real photo
JPEG_BASE64 = base64.b64encode((SAMPLES / "chelsea.jpg").read_bytes()).decode()  # the same photo in the JSON form
NOT_AN_IMAGE = _element(b"not an image")
BAD_REQUESTS = {
    # id: (inputs, binary part, extra request fields, status, code, words in the message)
    "wrong-datatype": ([{"name": "image", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}], b"", {}, 400,
                       "invalid_inference_request", "must be BYTES"),
    "shape-mismatch": ([_bytes_input(JPEG, [2])], JPEG, {}, 400, "invalid_inference_request", "needs 2 elements"),
    "wrong-rank": ([_bytes_input(JPEG, [1, 3])], JPEG, {}, 400, "invalid_inference_request", "shape [N] or [N, 1]"),
    "missing-input": ([], b"", {}, 400, "invalid_inference_request", "exactly one input"),
    "other-input": ([{"name": "INPUT__0", "shape": [1], "datatype": "BYTES", "data": ["eA=="]}], b"", {}, 400,
                    "invalid_inference_request", "'image'"),
    "undecodable-bytes": ([_bytes_input(NOT_AN_IMAGE)], NOT_AN_IMAGE, {}, 400, "invalid_image", "image 0"),
    "lying-binary-size": ([_bytes_input(JPEG, size=10**6)], JPEG, {}, 400, "invalid_inference_request",
                          "binary_data_size"),
    "bytes-length-past-end": ([_bytes_input(b"", size=8)], (1000).to_bytes(4, "little") + b"abcd", {}, 400,
                              "invalid_inference_request", "runs past"),
    "json-not-base64": ([{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["not base64!"]}], b"", {},
                        400, "invalid_inference_request", "base64"),
    "unknown-output": ([_bytes_input(JPEG)], JPEG, {"outputs": [{"name": "logits"}]}, 400,
                       "invalid_inference_request", "unknown output"),
    "output-twice": ([_bytes_input(JPEG)], JPEG, {"outputs": [{"name": "probabilities"}] * 2}, 400,
                     "invalid_inference_request", "twice"),
    "null-binary-size": ([{"name": "image", "shape": [1], "datatype": "BYTES", "data": [JPEG_BASE64],
                          "parameters": {"binary_data_size": None}}], b"", {}, 400, "invalid_inference_request",
                         "binary_data_size"),
    "bad-class-count": ([_bytes_input(JPEG)], JPEG, {"outputs": [{"name": "probabilities",
                        "parameters": {"classification": 0}}]}, 400, "invalid_inference_request", "classification"),
    "more-classes-than-the-model": ([_bytes_input(JPEG)], JPEG, {"outputs": [{"name": "probabilities",
                                    "parameters": {"classification": 1001}}]}, 400, "invalid_inference_request",
                                    "at most 1000 (the model's classes)"),
}  # fmt: skip


@pytest.mark.parametrize(("inputs", "binary", "fields", "status", "code", "words"), list(BAD_REQUESTS.values()),
                         ids=list(BAD_REQUESTS))  # fmt: skip
def test_bad_inference_request_is_a_4xx_error_and_the_model_still_answers(
    service: ServiceProcess, torchserve: TorchServe, inputs, binary, fields, status, code, words
) -> None:
    body, headers = _body(inputs, binary, **fields)
    with http_client(service) as client:
        before = len(prediction_requests(torchserve, MODEL))
        response = client.post(f"/v2/models/{MODEL}/infer", content=body, headers=headers)
        after = len(prediction_requests(torchserve, MODEL))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert words in response.json()["error"]
    assert after == before, "refused before anything reached TorchServe"
    good, good_headers = _body([_bytes_input(JPEG)], JPEG)
    with http_client(service) as client:
        assert client.post(f"/v2/models/{MODEL}/infer", content=good, headers=good_headers).status_code == 200


@pytest.mark.parametrize("length", ["\u00b2", "\u00b9", "\u00b3"])
def test_a_header_length_in_superscript_digits_is_a_protocol_error(
    closed_port_service: ServiceProcess, length: str
) -> None:
    """str.isdigit() takes superscripts, int() does not: the length must be ASCII digits (refused before TorchServe,
    which is down here)."""
    body, _ = _body([_bytes_input(JPEG)], JPEG)
    headers = {"Inference-Header-Content-Length": length.encode("latin-1")}
    with httpx.Client(base_url=closed_port_service.url) as client:
        response = client.post(f"/v2/models/{MODEL}/infer", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_inference_request" and "Inference-Header-Content-Length" in response.text


def _counted_inference(
    service: ServiceProcess, torchserve: TorchServe, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response, int]:
    """The answer to an inference request, and how many prediction requests TorchServe got meanwhile."""
    with http_client(service) as client:
        before = len(prediction_requests(torchserve, MODEL))
        response = client.post(f"/v2/models/{MODEL}/infer", content=body, headers=headers)
        return response, len(prediction_requests(torchserve, MODEL)) - before


@pytest.mark.parametrize("kind", ["truncated_jpeg", "png_data_ends_early"])
def test_corrupt_image_is_refused_by_the_handler_as_invalid_image(
    service: ServiceProcess, torchserve: TorchServe, cat_jpeg: bytes, kind: str
) -> None:
    """The header check passes; the handler's strict decoder refuses the truncated data (a PNG whose zlib stream
    ends cleanly after 100 of its 300 rows was classified with black rows before), and the worker goes on."""
    if kind == "truncated_jpeg":
        truncated = cat_jpeg[: len(cat_jpeg) // 2]
    else:
        truncated = png_ending_early(photo("chelsea"), 100 / 300)
    body, headers = _body([_bytes_input(_element(truncated))], _element(truncated))
    response, sent = _counted_inference(service, torchserve, body, headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_image" and response.json()["error"].startswith("image 0:")
    assert sent == 1
    assert triton_client(service).is_model_ready(MODEL)


def test_sixteen_tiny_pngs_declaring_megapixels_are_refused_before_torchserve(
    service: ServiceProcess, torchserve: TorchServe
) -> None:
    """Each declares 16 MP in under 100 bytes: no deflate stream that short holds the rows, so the service's header
    check refuses the batch at once (before, each cost a worker its decoding memory and a black image)."""
    bomb = _element(png_declaring(4_000, 4_000))
    body, headers = _body([_bytes_input(bomb * 16, shape=[16])], bomb * 16)
    response, sent = _counted_inference(service, torchserve, body, headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_image" and response.json()["error"].startswith("image 0:")
    assert sent == 0, "refused before anything reached TorchServe"


def test_more_images_than_the_batch_limit_and_unknown_models_are_refused(service: ServiceProcess) -> None:
    with http_client(service) as client:
        unknown = client.post("/v2/models/resnet9000/infer", json={"inputs": []})
        many = [{"name": "image", "shape": [65], "datatype": "BYTES", "data": ["eA=="] * 65}]
        too_many = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": many})
        not_json = client.post(f"/v2/models/{MODEL}/infer", content=b"{nope", headers={"content-type": "text/plain"})
    assert unknown.status_code == 404 and "unknown model" in unknown.json()["error"]
    assert too_many.status_code == 400 and "65 images" in too_many.json()["error"]
    assert not_json.status_code == 400 and "InferRequest" in not_json.json()["error"]


def test_not_ready_while_torchserve_is_down(closed_port_service: ServiceProcess) -> None:
    client = triton_client(closed_port_service)
    assert client.is_server_live()
    with httpx.Client(base_url=closed_port_service.url) as raw:
        ready = raw.get("/v2/health/ready")
        model = raw.get(f"/v2/models/{MODEL}/ready")
    assert ready.status_code == 400 and ready.json()["ready"] is False
    assert model.status_code == 400 and model.json()["ready"] is False
    assert not client.is_server_ready()
    assert not client.is_model_ready(MODEL)
