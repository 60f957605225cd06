"""PROBE_MAX_PIXELS_IN_FLIGHT through HTTP (docs/targets.md, docs/probe.md): for targets whose views the service
cuts itself, an image's decoded pixels and its views are held in the budget while its views are classified; a probe
that does not fit waits for room (PROBE_ADMISSION_WAIT_S), then is refused with 503 and Retry-After, nothing sent to
the target. The window is certain: the fake TorchServe (its stock-handler model, a `torchserve` target) holds the
first probe's views at a gate the test opens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from antialiased.preprocessing import CROP_SIZE
from service.app import create_app
from service.settings import Settings
from service.target_settings import TorchServeConfig
from tests.support.fake_torchserve import STOCK_MODEL, FakeTorchServe
from tests.support.served_models import SERVED_MODELS
from tests.support.serving import encode, photo
from tests.support.waiting import wait_until

SIDE = 256  # the photo's square crop: its decoded pixels are SIDE²
IMAGE = encode(photo("chelsea")[:SIDE, :SIDE], "PNG")
QUERY = {"model": "stock", "pairs": 1, "seed": 0}


def _probe(client: TestClient, body: object = IMAGE) -> httpx.Response:
    return client.post("/v1/stability", params=QUERY, content=body)


@pytest.fixture(scope="module")
def views(fake: FakeTorchServe) -> int:
    """How many views the probe has (each held in the budget as CROP_SIZE² pixels, beside the image's)."""
    with _client(fake, max_pixels_in_flight=10**9, admission_wait_s=0) as client:
        response = _probe(client)
    assert response.status_code == 200, response.text
    return len(response.json()["shifts"])


def _client(fake: FakeTorchServe, **settings: object) -> TestClient:
    stock = TorchServeConfig(name="stock", kind="torchserve", url=fake.url, model=STOCK_MODEL)
    return TestClient(create_app(Settings(torchserve_url=fake.url, models=SERVED_MODELS, targets=(stock,), retries=0,
                                          ready_interval_s=600, ready_idle_s=3600, **settings)))  # fmt: skip


@pytest.fixture
def held(fake: FakeTorchServe) -> Iterator[threading.Event]:
    """The fake's gate, closed: predictions wait at it until the test sets it."""
    gate = fake.hold = threading.Event()
    fake.held = 0
    try:
        yield gate
    finally:
        gate.set()
        fake.hold = None


def _budget(views: int) -> int:
    """Room for one probe (its image and views), not two."""
    one = SIDE * SIDE + views * CROP_SIZE**2
    return one + one // 2


def test_a_probe_beyond_the_pixels_in_flight_waits_then_is_a_503_and_sends_nothing(
    fake: FakeTorchServe, views: int, held: threading.Event
) -> None:
    wait_s = 0.5
    with _client(fake, max_pixels_in_flight=_budget(views), admission_wait_s=wait_s) as client:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(_probe, client)
            wait_until(lambda: fake.held >= views, 30, "every view of the first probe held at the target")
            started = time.monotonic()
            second = _probe(client)
            waited = time.monotonic() - started
            reached = fake.held - views
            held.set()
            assert first.result().status_code == 200, first.result().text
        third = _probe(client)
    assert (second.status_code, second.json()["code"]) == (503, "overloaded"), second.text
    assert "decoded pixels" in second.json()["message"] and int(second.headers["retry-after"]) >= 1
    assert waited >= wait_s, "it waited for room before the 503"
    assert reached == 0, "nothing of the refused probe reached the target"
    assert third.status_code == 200, "the first probe gave its pixels back"


def test_a_probe_beyond_the_pixels_in_flight_waits_its_turn_within_the_admission_wait(
    fake: FakeTorchServe, views: int, held: threading.Event
) -> None:
    """The second probe's body is read by the service (the generator below is drained) while the first's views are
    held at the target; the gate opens, and the second, which waited for the first's pixels, is answered too."""
    read = threading.Event()

    def body() -> Iterator[bytes]:
        yield IMAGE
        read.set()

    settings = {"max_pixels_in_flight": _budget(views), "admission_wait_s": 60}
    with _client(fake, **settings) as client, ThreadPoolExecutor(2) as pool:
        first = pool.submit(_probe, client)
        wait_until(lambda: fake.held >= views, 30, "every view of the first probe held at the target")
        second = pool.submit(_probe, client, body())
        wait_until(read.is_set, 30, "the second probe's body read by the service")
        held.set()
        answers = first.result(), second.result()
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text for answer in answers]
    assert fake.held == 2 * views
