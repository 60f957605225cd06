"""The probe service's routing, parameters and error answers, in-process (FastAPI's TestClient) in front of a fake
TorchServe (tests/support/fake_torchserve.py: a real HTTP server without a model), so they run in seconds: bad input
is a 4xx JSON error naming the problem before anything reaches TorchServe, TorchServe's failures become the probe's
codes, unknown routes and methods are JSON errors. What needs the real handler's predictions is tested against the
real TorchServe (test_probe_api.py, test_probe_errors.py)."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from antialiased.imagefile import ImageLimits
from antialiased.labels import IMAGENET_CATEGORIES
from service.app import create_app
from service.settings import Settings
from service.target_settings import OursConfig
from tests.support.fake_torchserve import FakeTorchServe, top1_class
from tests.support.served_models import SERVED_MODELS
from tests.support.service import MAX_OFFSETS, MAX_PIXELS, MAX_UPLOAD_BYTES, SAMPLES, sample_value


@pytest.fixture(scope="module")
def client(fake: FakeTorchServe) -> Iterator[TestClient]:
    """The app with the limits the real-server tests use, in front of the fake; ready (its first readiness
    predictions made, none later: the interval is long)."""
    settings = Settings(
        torchserve_url=fake.url,
        models=SERVED_MODELS,
        image=ImageLimits(max_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PIXELS),
        max_offsets=MAX_OFFSETS,
        retries=0,
        ready_interval_s=600,
        ready_idle_s=3600,
    )
    with TestClient(create_app(settings)) as test_client:
        _wait_until_ready(test_client)
        yield test_client


def _wait_until_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 10
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").text
        time.sleep(0.05)


@pytest.fixture
def cat_jpeg() -> bytes:
    return (SAMPLES / "chelsea.jpg").read_bytes()


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


CAT = "cat"  # replaced by the real photo in the test
BAD_REQUESTS: list[tuple[str, str, dict[str, Any], Any, int, str]] = [
    # (id, endpoint, query, body, status, code); body: bytes (raw), CAT (the photo),
    # a dict (multipart fields; CAT as the file) or (content type, raw bytes)
    ("text", "/v1/stability", {}, b"this is not an image, just text", 400, "invalid_image"),
    ("random-bytes", "/v1/stability", {}, bytes(range(256)) * 40, 400, "invalid_image"),
    ("empty", "/v1/stability", {}, b"", 400, "empty_body"),
    ("too-large", "/v1/stability", {}, b"\xff\xd8" + b"\0" * (MAX_UPLOAD_BYTES + 70_000), 413, "image_too_large"),
    ("too-many-pixels", "/v1/stability", {}, png(6000, 6000), 413, "too_many_pixels"),
    ("too-small", "/v1/stability", {}, png(16, 16), 400, "image_too_small"),
    ("sliver", "/v1/stability", {}, png(20_000, 32), 400, "aspect_ratio_too_large"),
    ("too-many-shifts-grid", "/v1/stability", {"protocol": "grid", "step": 1}, CAT, 400, "too_many_shifts"),
    ("too-many-pairs", "/v1/stability", {"pairs": 1000}, CAT, 400, "too_many_shifts"),
    ("crop-larger-than-image", "/v1/stability", {"crop_size": 300}, CAT, 400, "crop_larger_than_image"),
    (
        "circular-crop-too-large",
        "/v1/stability",
        {"protocol": "circular", "crop_size": 512},
        CAT,
        400,
        "crop_larger_than_image",
    ),
    (
        "crop-beyond-the-limit",  # 17 views of 992 x 992 took a worker +3.6 GB before crop_size had a maximum
        "/v1/stability",
        {"protocol": "diagonal", "max_shift": 16, "crop_size": 992, "resize_size": 1024},
        CAT,
        400,
        "invalid_parameter",
    ),
    ("unknown-model", "/v1/stability", {"model": "resnet9000"}, CAT, 400, "unknown_model"),
    ("unknown-protocol", "/v1/stability", {"protocol": "zigzag"}, CAT, 400, "unknown_protocol"),
    ("pairs-not-a-number", "/v1/stability", {"pairs": "many"}, CAT, 400, "invalid_parameter"),
    ("negative-seed", "/v1/stability", {"seed": -1}, CAT, 400, "invalid_parameter"),
    ("unknown-parameter", "/v1/stability", {"colour": "red"}, CAT, 400, "invalid_parameter"),
    ("top-k-too-large", "/v1/stability", {"topk": 500}, CAT, 400, "invalid_parameter"),
    ("top-k-deprecated-spelling-too-large", "/v1/stability", {"top_k": 500}, CAT, 400, "invalid_parameter"),
    ("top-k-both-spellings", "/v1/stability", {"topk": 3, "top_k": 3}, CAT, 400, "invalid_parameter"),
    (
        "top-k-both-spellings-query-and-form",
        "/v1/stability",
        {"topk": 3},
        {"top_k": "3", "image": CAT},
        400,
        "invalid_parameter",
    ),
    ("grid-step-larger-than-range", "/v1/stability", {"protocol": "grid", "step": 40}, CAT, 400, "invalid_parameter"),
    ("multipart-without-image", "/v1/stability", {}, {"protocol": "paper"}, 400, "empty_body"),
    ("parameter-twice", "/v1/stability", {"pairs": 2}, {"pairs": "3", "image": CAT}, 400, "invalid_parameter"),
    ("multipart-without-boundary", "/v1/stability", {}, ("multipart/form-data", b"--x\r\n"), 400, "invalid_multipart"),
    ("multipart-image-as-text", "/v1/stability", {}, {"image": "not a file"}, 400, "invalid_image"),
    ("compare-unknown-model", "/v1/compare", {"models": "resnet50,resnet9000"}, CAT, 400, "unknown_model"),
    ("compare-too-many-models", "/v1/compare", {"models": "a,b,c,d,e"}, CAT, 400, "too_many_models"),
    ("compare-unknown-protocol", "/v1/compare", {"protocol": "spiral"}, CAT, 400, "unknown_protocol"),
    (
        "fractional-step-zero",
        "/v1/stability",
        {"protocol": "fractional", "subpixel_step": 0},
        CAT,
        400,
        "invalid_parameter",
    ),
    # A step so small that max_shift / step overflows (found by schemathesis: a 500 before), or one that would make
    # a million views: refused before any offset is made.
    (
        "fractional-step-underflows",
        "/v1/stability",
        {"protocol": "fractional", "subpixel_step": 1e-300},
        CAT,
        400,
        "too_many_shifts",
    ),
    (
        "fractional-step-tiny",
        "/v1/stability",
        {"protocol": "fractional", "subpixel_step": 1e-6},
        CAT,
        400,
        "too_many_shifts",
    ),
    (
        "fractional-step-above-one",
        "/v1/compare",
        {"protocol": "fractional", "subpixel_step": 1.5},
        CAT,
        400,
        "invalid_parameter",
    ),
    (
        "fractional-unknown-method",
        "/v1/stability",
        {"protocol": "fractional", "method": "lanczos"},
        CAT,
        400,
        "invalid_parameter",
    ),
    ("worst-case-too-many-views", "/v1/stability", {"protocol": "worst-case"}, CAT, 400, "too_many_shifts"),
    (
        "worst-case-window-too-wide",
        "/v1/stability",
        {"protocol": "worst-case", "max_shift": 33, "mode": "circular"},
        CAT,
        400,
        "invalid_parameter",
    ),
    (
        "worst-case-window-beyond-image",
        "/v1/compare",
        {"protocol": "worst-case", "max_shift": 3, "crop_size": 256},
        CAT,
        400,
        "crop_larger_than_image",
    ),
]


def _send(client: TestClient, endpoint: str, query: dict, body: Any, cat_jpeg: bytes) -> httpx.Response:
    if body is CAT:
        return client.post(endpoint, params=query, content=cat_jpeg)
    if isinstance(body, dict):
        fields = {k: v for k, v in body.items() if v is not CAT}
        files = {"image": ("cat.jpg", cat_jpeg, "image/jpeg")} if body.get("image") is CAT else {"other": ("x", b"x")}
        return client.post(endpoint, params=query, data=fields, files=files)
    if isinstance(body, tuple):
        content_type, raw = body
        return client.post(endpoint, params=query, content=raw, headers={"content-type": content_type})
    return client.post(endpoint, params=query, content=body)


@pytest.mark.parametrize(
    ("endpoint", "query", "body", "status", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_input_is_a_json_4xx_before_torchserve(
    client: TestClient,
    fake: FakeTorchServe,
    cat_jpeg: bytes,
    endpoint: str,
    query: dict,
    body: Any,
    status: int,
    code: str,
) -> None:
    before = fake.requests
    response = _send(client, endpoint, query, body, cat_jpeg)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["code"] == code
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    assert fake.requests == before, "nothing was sent to TorchServe"


def test_a_probe_through_the_fake_scores_the_fakes_answers(
    client: TestClient, fake: FakeTorchServe, cat_jpeg: bytes
) -> None:
    before = fake.requests
    response = client.post("/v1/stability", params={"protocol": "diagonal", "max_shift": 4}, content=cat_jpeg)
    assert response.status_code == 200, response.text
    shifts = response.json()["shifts"]
    assert [s["topk"][0]["index"] for s in shifts] == [(dy + dx) % 3 for dy, dx in (s["offset"] for s in shifts)]
    assert fake.requests == before + 1, "one TorchServe request for all the shifts"


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        ((503, b'{"code": 503, "message": "queue full"}'), 503, "overloaded"),
        ((507, b'{"code": 507, "message": "worker died"}'), 503, "overloaded"),
        ((500, b"not json at all"), 502, "torchserve_error"),
        ((200, b'{"model": "half an answer"}'), 502, "torchserve_error"),
        ((413, b'{"code": "too_many_pixels", "message": "no batch holds it"}'), 413, "too_many_pixels"),
    ],
    ids=["503", "507", "500-text", "200-nonsense", "handler-413"],
)
def test_torchserve_failures_become_the_probes_codes(
    client: TestClient, fake: FakeTorchServe, cat_jpeg: bytes, failure: tuple[int, bytes], status: int, code: str
) -> None:
    fake.failure = failure
    try:
        response = client.post("/v1/stability", params={"pairs": 2}, content=cat_jpeg)
    finally:
        fake.failure = None
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    if status == 503:
        assert int(response.headers["retry-after"]) >= 1


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/v2/nothing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow(client: TestClient) -> None:
    response = client.get("/v1/stability")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"


def test_an_ours_target_on_another_torchserve_is_called_there_with_its_own_token(
    fake: FakeTorchServe, cat_jpeg: bytes
) -> None:
    remote = OursConfig(name="remote", kind="ours", url=fake.url, model="elsewhere", token="remote-key")
    settings = Settings(torchserve_url="http://127.0.0.1:9", targets=(remote,), ready_interval_s=600)
    with TestClient(create_app(settings)) as test_client:
        before = fake.requests
        response = test_client.post("/v1/stability", params={"model": "remote", "pairs": 2}, content=cat_jpeg)
    assert response.status_code == 200, response.text
    assert response.json()["model"]["name"] == "elsewhere" and fake.requests == before + 1  # its name there
    assert fake.authorization == "Bearer remote-key"


def test_the_config_tells_each_models_classes_asked_once_and_null_while_torchserve_fails(fake: FakeTorchServe) -> None:
    settings = Settings(torchserve_url=fake.url, models=SERVED_MODELS, retries=0, ready_interval_s=600,
                        ready_idle_s=3600, ready_timeout_s=2)  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        _wait_until_ready(test_client)
        fake.failure = (503, b"{}")
        try:
            failing = test_client.get("/v1/config")
        finally:
            fake.failure = None
        assert failing.status_code == 200 and failing.json()["labels"] == dict.fromkeys(SERVED_MODELS)
        before = fake.requests
        labels = test_client.get("/v1/config").json()["labels"]
        asked = fake.requests - before
        test_client.get("/v1/config")
        again = fake.requests - before - asked
    assert labels == {model: list(IMAGENET_CATEGORIES) for model in SERVED_MODELS}
    assert (asked, again) == (len(SERVED_MODELS), 0), "one label-set request per model, then kept"


@pytest.mark.parametrize("spelling", ["topk", "top_k"])
def test_topk_is_the_spelling_and_top_k_still_works(client: TestClient, cat_jpeg: bytes, spelling: str) -> None:
    """`topk`, as in the handler contract and every answer; `top_k`, the probe API's old spelling, is deprecated."""
    response = client.post("/v1/stability", params={"pairs": 2, spelling: 2}, content=cat_jpeg)
    assert response.status_code == 200, response.text
    assert {len(shift["topk"]) for shift in response.json()["shifts"]} == {2}


def test_the_schema_and_the_config_spell_topk(client: TestClient) -> None:
    parameters = {p["name"] for p in client.get("/openapi.json").json()["paths"]["/v1/stability"]["post"]["parameters"]}
    assert "topk" in parameters and "top_k" not in parameters
    assert client.get("/v1/config").json()["max_topk"] >= 5


def test_the_answer_names_the_targets_kind_and_still_sends_its_old_name(client: TestClient, cat_jpeg: bytes) -> None:
    """`target_kind` (ours, torchserve, oip); `protocol`, its old name, is sent too for one release, marked deprecated
    in the schema."""
    body = client.post("/v1/stability", params={"pairs": 2}, content=cat_jpeg).json()
    assert (body["target_kind"], body["protocol"]) == ("ours", "ours")
    assert body["plan"]["protocol"] == "paper", "the plan's protocol is the shift protocol"
    schema = client.get("/openapi.json").json()["components"]["schemas"]["StabilityResponse"]["properties"]
    assert schema["protocol"]["deprecated"] is True and "deprecated" not in schema["target_kind"]


@pytest.mark.parametrize("variable", ["PROBE_MAX_OFFSETS", "PROBE_MAX_SHIFTS"])
def test_the_count_of_views_is_max_offsets_and_its_old_names_still_work(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    """PROBE_MAX_OFFSETS; PROBE_MAX_SHIFTS, its old name, is still read (logged as deprecated), and /v1/config sends
    the old key `max_shifts` beside `max_offsets` for one release."""
    monkeypatch.setenv(variable, "7")
    with caplog.at_level(logging.WARNING, logger="service.settings"):
        settings = Settings(torchserve_url="http://127.0.0.1:9", ready_interval_s=600)
    assert settings.max_offsets == 7
    assert ("deprecated setting PROBE_MAX_SHIFTS: use PROBE_MAX_OFFSETS" in caplog.text) == (
        variable != "PROBE_MAX_OFFSETS"
    )
    with TestClient(create_app(settings)) as test_client:
        config = test_client.get("/v1/config").json()
        schema = test_client.get("/openapi.json").json()["components"]["schemas"]["ServiceConfig"]["properties"]
    assert (config["max_offsets"], config["max_shifts"]) == (7, 7)
    assert schema["max_shifts"]["deprecated"] is True


def test_a_prediction_a_restarted_worker_never_answers_is_sent_again(fake: FakeTorchServe, cat_jpeg: bytes) -> None:
    """The fake leaves the next prediction unanswered, as TorchServe 0.12 drops those a dying worker had gathered into
    its batch; the readiness monitor sees the worker's pid change, and the probe sends the prediction again instead
    of waiting for its timeout (60 s here)."""
    settings = Settings(torchserve_url=fake.url, torchserve_management_url=fake.url, models=SERVED_MODELS,
                        timeout_s=60, ready_interval_s=0.1, ready_idle_s=3600)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        _wait_until_ready(client)
        fake.unanswered = 1
        restart = threading.Timer(0.5, lambda: setattr(fake, "worker_pid", fake.worker_pid + 1))
        restart.start()
        started = time.monotonic()
        response = client.post("/v1/stability", params={"pairs": 2}, content=cat_jpeg)
        seconds = time.monotonic() - started
        restarts = sample_value(client.get("/metrics").text, "probe_torchserve_retries_total", reason="restarted")
    assert response.status_code == 200, response.text
    assert seconds < 10 and restarts == 1


@pytest.mark.parametrize(
    "query",
    [{"protocol": "fractional", "method": "bilinear"}, {"protocol": "worst-case", "max_shift": 3, "mode": "circular"}],
)
def test_the_protocols_beyond_the_paper_reach_the_handler_and_are_scored_against_the_unshifted_view(
    client: TestClient, cat_jpeg: bytes, query: dict
) -> None:
    body = client.post("/v1/compare", params=query, content=cat_jpeg).json()
    plan, origin = body["plan"], body["results"][0]["metrics"]["origin"]
    offsets = [tuple(o) for o in plan["offsets"]]
    reference = offsets.index(tuple(plan["origin"]))
    expected = [top1_class(o) == top1_class(offsets[reference]) for i, o in enumerate(offsets) if i != reference]
    assert origin["kept_fraction"] == sum(expected) / len(expected)
    assert plan.get("method") == query.get("method") and len(origin["curve"]) == len(offsets)
