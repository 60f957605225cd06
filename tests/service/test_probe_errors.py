"""Bad input gets a 4xx JSON error naming the problem before anything reaches TorchServe; TorchServe down is a
quick 503, too slow a 504; the service stays up."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.support.access_log import prediction_requests
from tests.support.served_models import SERVED_MODELS
from tests.support.service import SLOW_BODY_TIMEOUT_S, http_client, sample_value
from tests.support.serving import corrupt_zlib_png, encode, jpeg_declaring, photo, png_declaring, png_ending_early

pytestmark = [pytest.mark.serving, pytest.mark.slow]


def all_torchserve_requests(torchserve: TorchServe) -> int:
    return sum(len(prediction_requests(torchserve, model)) for model in SERVED_MODELS)


@pytest.mark.parametrize(
    "name", ["truncated_jpeg", "png_broken_zlib_stream", "png_data_ends_early", "jpeg_header_promises_4000x4000"]
)
def test_corrupt_image_data_is_refused_by_torchserve_and_passed_on(
    service: ServiceProcess, torchserve: TorchServe, name: str
) -> None:
    """The service checks only the header (it decodes nothing); the handler refuses the corrupt data, and the
    service answers with its 400 invalid_image, never a prediction of zero-filled or grey pixels."""
    data = {
        "truncated_jpeg": lambda: encode(photo("chelsea"))[:5000],
        "png_broken_zlib_stream": lambda: corrupt_zlib_png(photo("chelsea")),
        "png_data_ends_early": lambda: png_ending_early(photo("chelsea"), 100 / 300),  # its zlib stream ends cleanly
        "jpeg_header_promises_4000x4000": lambda: jpeg_declaring(encode(photo("chelsea")[:64, :64]), 4000, 4000),
    }[name]()
    with http_client(service) as client:
        before = all_torchserve_requests(torchserve)
        response = client.post("/v1/stability", params={"pairs": 2, "model": "circular_invariant"}, content=data)
        after = all_torchserve_requests(torchserve)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_image"
    assert after == before + 1, "refused by TorchServe's handler, after the header check passed"


def test_a_sequence_frame_whose_png_data_ends_early_is_invalid_image(service: ServiceProcess) -> None:
    """The frames go to the handler as plain requests; the one whose data ends after 100 of its 300 rows is refused
    there (before, it was classified with 200 black rows)."""
    frames = [encode(photo("chelsea"), "PNG"), png_ending_early(photo("chelsea"), 100 / 300)]
    files = [("frame", (f"{k}.png", frame, "image/png")) for k, frame in enumerate(frames)]
    with http_client(service) as client:
        response = client.post("/v1/sequence", params={"models": "circular_invariant"}, files=files)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_image" and "truncated" in response.json()["message"]


def test_a_png_too_small_for_its_declared_pixels_is_refused_before_torchserve(
    service: ServiceProcess, torchserve: TorchServe
) -> None:
    with http_client(service) as client:
        before = all_torchserve_requests(torchserve)
        response = client.post("/v1/stability", params={"pairs": 2}, content=png_declaring(4_000, 4_000))
        after = all_torchserve_requests(torchserve)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_image" and "truncated" in response.json()["message"]
    assert after == before, "refused by the service's header check"


def test_torchserve_down_is_a_quick_503(closed_port_service: ServiceProcess, cat_jpeg: bytes) -> None:
    with http_client(closed_port_service) as client:
        start = time.monotonic()
        response = client.post("/v1/stability", params={"pairs": 1}, content=cat_jpeg)
        elapsed = time.monotonic() - start
        ready = client.get("/readyz")
        assert client.get("/healthz").status_code == 200, "alive even when TorchServe is not"
        metrics = client.get("/metrics").text
    assert response.status_code == 503
    assert response.json()["code"] == "torchserve_unavailable"
    assert elapsed < 10, "refused connections are retried briefly, not until the 120 s read timeout"
    assert ready.status_code == 503
    assert ready.json()["code"] == "not_ready"
    assert not any(m["ready"] for m in ready.json()["detail"]["models"].values())
    # The request's own failure; the readiness monitor's first one may still be retrying when /metrics is read.
    assert sample_value(metrics, "probe_torchserve_errors_total", reason="torchserve_unavailable") >= 1


def test_torchserve_too_slow_is_a_504(impatient_service: ServiceProcess, cat_jpeg: bytes) -> None:
    with http_client(impatient_service) as client:
        response = client.post(
            "/v1/stability", params={"model": "resnet50", "protocol": "diagonal", "max_shift": 7}, content=cat_jpeg
        )
        metrics = client.get("/metrics").text
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "torchserve_timeout"
    assert sample_value(metrics, "probe_torchserve_errors_total", model="resnet50", reason="torchserve_timeout") == 1


@pytest.mark.parametrize("path", ["/", "/healthz", "/v2", "/v1/config", "/openapi.json"])
def test_head_is_answered_as_get_without_a_body(closed_port_service: ServiceProcess, path: str) -> None:
    with httpx.Client(base_url=closed_port_service.url) as client:
        head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize("path", ["/docs/", "/v1/config/", "/static"])
def test_no_answer_redirects_to_the_host_a_client_names(closed_port_service: ServiceProcess, path: str) -> None:
    """A slash redirect would be built from the Host header (an open redirect): such paths are plain 404s."""
    with httpx.Client(base_url=closed_port_service.url) as client:
        response = client.get(path, headers={"Host": "evil.example"})
    assert "location" not in response.headers, response.headers
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_made_up_methods_share_one_metrics_label(closed_port_service: ServiceProcess) -> None:
    """The `method` label takes the standard methods and "other": made-up methods do not grow /metrics."""
    with httpx.Client(base_url=closed_port_service.url) as client:
        statuses = {client.request(f"MADEUP{i}", "/healthz").status_code for i in range(40)}
        metrics = client.get("/metrics").text
    assert statuses == {405}
    assert "MADEUP" not in metrics
    assert sample_value(metrics, "probe_http_requests_total", endpoint="/healthz", method="other") == 40


def _read_response(connection: socket.socket) -> str:
    """One HTTP response (headers and a Content-Length body), however the server splits it into segments."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"content-length"])
    while len(body) < length:
        body += connection.recv(65536)
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def test_a_body_shorter_than_its_content_length_is_cut_off_in_time(slow_body_service: ServiceProcess) -> None:
    """A lying or stalled client declares more than it sends: the service answers 408 after its body timeout
    instead of holding the connection, and keeps serving others."""
    host, port = slow_body_service.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        start = time.monotonic()
        connection.sendall(
            b"POST /v1/stability HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
            + b"\xff\xd8" * 100
        )
        answer = _read_response(connection)
        elapsed = time.monotonic() - start
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert '"code":"request_timeout"' in answer
    assert elapsed < SLOW_BODY_TIMEOUT_S + 5
    with http_client(slow_body_service) as client:
        assert client.get("/healthz").status_code == 200
