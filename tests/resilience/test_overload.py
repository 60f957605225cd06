"""Overload: TorchServe's job queue has a deliberate size; beyond it the probe service says "overloaded" with a
Retry-After, and with its retries (jittered, growing backoff) every request gets through in the end."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from servers.torchserve import TorchServe
from tests.resilience.conftest import JOB_QUEUE_SIZE, start_probe
from tests.served_models import CIRCULAR_MODEL
from tests.service.services import sample_value
from tests.serving.helpers import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]

IMAGE = encode(photo("rocket"))
BURST = 120  # far more than the queue holds


def _burst(url: str, **kwargs) -> list[httpx.Response]:
    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(lambda _: httpx.post(url, content=IMAGE, timeout=120, **kwargs), range(BURST)))


def test_torchserve_refuses_beyond_its_job_queue_at_once(fragile_torchserve: TorchServe) -> None:
    url = f"{fragile_torchserve.inference_url}/predictions/{CIRCULAR_MODEL}"
    statuses = [r.status_code for r in _burst(url, headers={"Content-Type": "application/octet-stream"})]
    assert set(statuses) == {200, 503}, statuses
    assert statuses.count(200) >= JOB_QUEUE_SIZE, "the queue's worth of requests is served"


def test_without_retries_the_probe_answers_overload_as_a_503_that_says_so(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    with start_probe(fragile_torchserve, tmp_path / "probe.log", PROBE_RETRIES="0") as probe:
        responses = _burst(f"{probe.url}/v1/stability?pairs=1")
    refused = [r for r in responses if r.status_code != 200]
    assert refused, "the burst overflows TorchServe's queue"
    assert {r.status_code for r in refused} == {503}
    for response in refused:
        body = response.json()
        assert body["code"] == "overloaded" and "queue is full" in body["message"], body
        assert int(response.headers["retry-after"]) >= 1


def test_with_retries_every_probe_request_gets_through(fragile_torchserve: TorchServe, tmp_path: Path) -> None:
    with start_probe(fragile_torchserve, tmp_path / "probe.log", PROBE_RETRIES="8") as probe:
        responses = _burst(f"{probe.url}/v1/stability?pairs=1")
        metrics = httpx.get(f"{probe.url}/metrics").text
    assert [r.status_code for r in responses] == [200] * BURST, [
        r.text[:200] for r in responses if r.status_code != 200
    ]
    retries = sample_value(metrics, "probe_torchserve_retries_total", reason="503")
    assert 0 < retries <= 8 * BURST, "refused requests were retried, each a bounded number of times"
