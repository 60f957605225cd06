"""Readiness without synthetic load: an idle probe service sends a prediction of its own only once a model has been
idle for PROBE_READY_IDLE_S, marks it (its own metrics, the handler's metrics, TorchServe's access log), and real
traffic replaces it altogether; /readyz stays ready throughout."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handlers import prometheus_metrics as handler_metrics
from launcher.torchserve import TorchServe
from tests.support.access_log import prediction_requests
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.service import (
    http_client,
    sample_value,
    start_test_service,
    torchserve_env,
    wait_until_ready,
)
from tests.support.serving import encode, photo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.serving, pytest.mark.slow]

IDLE_S = 3.0
INTERVAL_S = 0.2  # the old monitor predicted at every interval without traffic: 15 times per IDLE_S


def _readiness_env(torchserve: TorchServe) -> dict[str, str]:
    return {
        "PROBE_MODELS": CIRCULAR_MODEL,
        "PROBE_READY_INTERVAL_S": str(INTERVAL_S),
        "PROBE_READY_IDLE_S": str(IDLE_S),
        **torchserve_env(torchserve),
    }


def _synthetic(client: httpx.Client) -> float:
    """The synthetic (readiness) predictions the service has sent so far."""
    metrics = client.get("/metrics").text
    name = "probe_torchserve_request_duration_seconds_count"
    return sample_value(metrics, name, model=CIRCULAR_MODEL, purpose="readiness")


def _watch(client: httpx.Client, seconds: float, work=None) -> tuple[list[float], list[int]]:
    """For `seconds`: the times at which the synthetic count grew, and every /readyz status (running `work` each
    round when given)."""
    grew, statuses = [], []
    count, end = _synthetic(client), time.monotonic() + seconds
    while time.monotonic() < end:
        if work is not None:
            work()
        statuses.append(client.get("/readyz").status_code)
        now = _synthetic(client)
        grew += [time.monotonic()] * int(now - count)
        count = now
        time.sleep(0.1)
    return grew, statuses


def _readiness_times(torchserve: TorchServe) -> list[float]:
    """When TorchServe answered each readiness prediction for the model (its own times, in seconds)."""
    return [access.time for access in prediction_requests(torchserve, CIRCULAR_MODEL, "readiness")]


def test_an_idle_service_predicts_once_per_idle_period_and_marks_it(torchserve: TorchServe, tmp_path: Path) -> None:
    with (
        start_test_service(torchserve.inference_url, tmp_path / "probe.log", **_readiness_env(torchserve)) as service,
        http_client(service) as client,
    ):
        wait_until_ready(service)  # after the service's first readiness prediction, at its start
        (model,) = client.get("/readyz").json()["models"].values()
        assert model["top1"]["label"] and model["ms"] > 0 and "untrained" in model["weights"], "its own answer shown"
        before = len(_readiness_times(torchserve))
        statuses = []

        def two_more() -> bool:
            statuses.append(client.get("/readyz").status_code)
            return len(_readiness_times(torchserve)) >= before + 2

        wait_until(two_more, 4 * IDLE_S + 60, "two synthetic predictions of the idle model", every_s=0.1)
        # TorchServe logs an answer as it sends it, the service counts it once it has read it: wait for that too.
        wait_until(
            lambda: _synthetic(client) >= 3,
            30,
            "the service's own metric to count them (the one at start, then two) apart",
            every_s=0.1,
        )
    assert set(statuses) == {200}, "ready throughout, with no traffic"
    first, *idle = _readiness_times(torchserve)[before - 1 :]
    gaps = np.diff([first, *idle])
    assert (gaps >= IDLE_S - 0.01).all(), f"one per {IDLE_S} s of idleness, not one per interval: {gaps} s apart"
    # TorchServe publishes the handler's metrics after a while
    wait_until(lambda: _handler_synthetic(torchserve) >= 1, 20, "the handler counts them apart", every_s=0.5)


def _handler_synthetic(torchserve: TorchServe) -> float:
    """The handler's count of readiness predictions (TorchServe's Prometheus endpoint)."""
    text = httpx.get(f"{torchserve.metrics_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == handler_metrics.SYNTHETIC_REQUESTS
        for sample in family.samples
        if sample.labels.get("Purpose") == "readiness" and sample.labels.get("ModelName") == CIRCULAR_MODEL
    )


def test_real_traffic_replaces_synthetic_predictions(torchserve: TorchServe, tmp_path: Path) -> None:
    image = encode(photo("coffee")[:256, :256])
    with (
        start_test_service(torchserve.inference_url, tmp_path / "probe.log", **_readiness_env(torchserve)) as service,
        http_client(service) as client,
    ):
        wait_until_ready(service)

        def probe() -> None:
            response = client.post("/v1/stability", params={"model": CIRCULAR_MODEL, "pairs": 2}, content=image)
            assert response.status_code == 200, response.text

        grew, statuses = _watch(client, 2.5 * IDLE_S, probe)
    assert set(statuses) == {200}
    assert grew == [], "no synthetic prediction while real ones succeed"
