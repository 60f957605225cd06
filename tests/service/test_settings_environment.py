"""Documented settings read from the environment take effect in the running app (in-process, FastAPI's TestClient,
in front of the fake TorchServe of tests/support/fake_torchserve.py): the image's aspect-ratio limit, the sequence
limits (`PROBE_SEQUENCE__*`), CORS (off by default, on for the origins listed); and /redoc works offline."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.app import create_app
from service.settings import Settings
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.service import served_assets
from tests.support.waiting import wait_until

ORIGIN = "https://probe.example"


@pytest.fixture
def app_from_env(fake: FakeTorchServe, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """An app whose settings come from the environment (PROBE_* variables as given), ready, in front of the fake."""
    opened: list[TestClient] = []

    def start(**env: str) -> TestClient:
        for name, value in {"PROBE_TORCHSERVE_URL": fake.url, "PROBE_MODELS": CIRCULAR_MODEL, **env}.items():
            monkeypatch.setenv(name, value)
        client = TestClient(create_app(Settings()))
        opened.append(client.__enter__())
        wait_until(lambda: client.get("/readyz").status_code == 200, 10, "ready")
        return client

    yield start
    for client in opened:
        client.__exit__(None, None, None)


def png(width: int, height: int, red: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (red, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_aspect_ratio_limit_from_the_environment(app_from_env) -> None:
    client = app_from_env(PROBE_IMAGE__MAX_ASPECT_RATIO="2")
    params = {"model": CIRCULAR_MODEL, "pairs": 1}
    wide = client.post("/v1/stability", params=params, content=png(300, 100))
    assert wide.status_code == 400 and wide.json()["code"] == "aspect_ratio_too_large", wide.text
    assert client.post("/v1/stability", params=params, content=png(200, 100)).status_code == 200, "2:1 is within"


def _sequence(client: TestClient, frames: list[bytes]):
    files = [("frame", (f"{k}.png", data, "image/png")) for k, data in enumerate(frames)]
    return client.post("/v1/sequence", params={"models": CIRCULAR_MODEL}, files=files)


def test_the_sequence_limits_from_the_environment(app_from_env) -> None:
    client = app_from_env(
        PROBE_SEQUENCE__MAX_FRAMES="3", PROBE_SEQUENCE__MAX_PIXELS="100000", PROBE_SEQUENCE__MAX_BYTES="20000"
    )
    assert _sequence(client, [png(100, 100, red) for red in (0, 1, 2)]).status_code == 200, "within every limit"
    frames = _sequence(client, [png(100, 100)] * 4)
    assert (frames.status_code, frames.json()["code"]) == (413, "too_many_frames"), frames.text
    pixels = _sequence(client, [png(200, 200)] * 3)  # 120,000 pixels
    assert (pixels.status_code, pixels.json()["code"]) == (413, "too_many_pixels"), pixels.text
    noise = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    heavy = io.BytesIO()
    Image.fromarray(noise).save(heavy, "PNG")  # 30 kB: noise does not compress
    large = _sequence(client, [heavy.getvalue(), png(100, 100)])
    assert (large.status_code, large.json()["code"]) == (413, "image_too_large"), large.text
    assert "the limit is 20000" in large.json()["message"], "the frames' bytes, not the multipart body's"


def test_cors_is_off_by_default_and_on_for_the_origins_listed(app_from_env) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    off = app_from_env()
    assert "access-control-allow-origin" not in off.get("/healthz", headers={"Origin": ORIGIN}).headers
    assert "access-control-allow-origin" not in off.options("/v1/stability", headers=preflight).headers
    on = app_from_env(PROBE_CORS_ORIGINS=f"{ORIGIN},https://other.example")
    assert on.get("/healthz", headers={"Origin": ORIGIN}).headers["access-control-allow-origin"] == ORIGIN
    allowed = on.options("/v1/stability", headers=preflight)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    stranger = on.get("/healthz", headers={"Origin": "https://stranger.example"})
    assert "access-control-allow-origin" not in stranger.headers, "only the origins listed"


def test_redoc_is_served_with_its_assets_offline(app_from_env) -> None:
    client = app_from_env()
    assert client.get("/redoc").status_code == 200
    assert any(asset.endswith(".js") for asset in served_assets(client, "/redoc"))
