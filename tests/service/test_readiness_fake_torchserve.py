"""The readiness monitor's documented judgements, in-process in front of the fake TorchServe (its worker READY in its
management API): a readiness prediction that times out while a worker is READY is a busy model, still ready; where
the worker states are unknown (no management API) the same timeout is a failure, and /readyz says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.serving import encode, photo
from tests.support.waiting import wait_until

TIMINGS = {"ready_interval_s": 0.1, "ready_idle_s": 0.3, "ready_timeout_s": 0.3, "retries": 0}


@pytest.fixture
def fake() -> Iterator[FakeTorchServe]:
    with FakeTorchServe() as server:
        yield server


def _app(fake: FakeTorchServe, **settings) -> TestClient:
    timings = TIMINGS | settings
    return TestClient(create_app(Settings(torchserve_url=fake.url, models=(CIRCULAR_MODEL,), **timings)))


@pytest.mark.parametrize(("workers_known", "ready"), [(True, 200), (False, 503)], ids=["worker_ready", "unknown"])
def test_a_readiness_prediction_that_times_out(fake: FakeTorchServe, workers_known: bool, ready: int) -> None:
    management = {"torchserve_management_url": fake.url} if workers_known else {}
    with _app(fake, **management) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 10, "ready: the first prediction answered")
        sent = fake.requests
        fake.unanswered = 1000  # every prediction from now on waits past the readiness timeout
        wait_until(lambda: fake.requests >= sent + 2, 10, "an idle model's readiness prediction timed out, and again")
        answer = client.get("/readyz")
        fake.unanswered = 0
    assert answer.status_code == ready, answer.text


def test_real_traffic_tells_the_weights_before_the_monitor_s_own_prediction(fake: FakeTorchServe) -> None:
    """A model made ready by a real probe (the monitor's own first prediction held unanswered) reports the weights
    that probe's answer was made with: /readyz never says ready with its weights unknown."""
    fake.unanswered = 1  # the first prediction to arrive, the monitor's own, waits until the fake stops
    with _app(fake, ready_timeout_s=600) as client:
        wait_until(lambda: fake.requests >= 1, 10, "the monitor's first prediction sent (and held)")
        probe = client.post("/v1/stability", params={"model": CIRCULAR_MODEL, "pairs": 1}, content=encode(photo()))
        assert probe.status_code == 200, probe.text
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    (model,) = ready.json()["models"].values()
    assert model["weights"] == probe.json()["weights"], "the weights from the probe's answer"
    assert model["top1"] is None, "the monitor's own answer is still held: the weights came from the probe"
