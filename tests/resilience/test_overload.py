"""Overload: TorchServe's job queue has a deliberate size; beyond it the probe service says "overloaded" with a
Retry-After, and with its retries (jittered, growing backoff) every request gets through in the end."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from antialiased.shifts import ShiftRequest
from launcher.torchserve import TorchServe
from tests.support.access_log import prediction_requests
from tests.support.resilience import (
    JOB_QUEUE_SIZE,
    MAX_CROP_SIZE,
    MAX_IMAGE_PIXELS,
    MAX_PIXELS_PER_BATCH,
    MAX_VIEW_PIXELS_PER_BATCH,
    OIP_WAVES,
    black_png,
    start_probe,
)
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.service import sample_value
from tests.support.serving import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]

IMAGE = encode(photo("rocket"))
BURST = 120  # far more than the queue holds
AT_ONCE_S = 2.0  # a refusal that comes from a limit, not from a retry loop


def _burst(url: str, **kwargs) -> list[httpx.Response]:
    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(lambda _: httpx.post(url, content=IMAGE, timeout=120, **kwargs), range(BURST)))


def test_torchserve_refuses_beyond_its_job_queue_at_once(fragile_torchserve: TorchServe) -> None:
    """Refused while the queue is full, not after waiting for room: every 503 comes (TorchServe's own times) before
    the last of the queued requests is answered."""
    url = f"{fragile_torchserve.inference_url}/predictions/{CIRCULAR_MODEL}"
    earlier = len(prediction_requests(fragile_torchserve, CIRCULAR_MODEL))
    statuses = [r.status_code for r in _burst(url, headers={"Content-Type": "application/octet-stream"})]
    assert set(statuses) == {200, 503}, statuses
    assert statuses.count(200) >= JOB_QUEUE_SIZE, "the queue's worth of requests is served"
    burst = prediction_requests(fragile_torchserve, CIRCULAR_MODEL)[earlier:]
    assert sorted(access.status for access in burst) == sorted(statuses), "TorchServe's record of the burst"
    refused_last = max(access.time for access in burst if access.status == 503)
    assert refused_last <= max(access.time for access in burst if access.status == 200), "refused at once"


# The probe service's scheduler lets a chunk's worth of view pixels at a model at once (32 of these 2-view probes):
# room for the whole burst, so that it reaches TorchServe at once and overflows its queue; and no deadline, since the
# throughput it measures then counts the retries' waits, and the burst is one client's (tests/resilience/
# test_scheduling.py tests the scheduler).
ALL_AT_ONCE = {"PROBE_CHUNKS_IN_FLIGHT": str(BURST), "PROBE_DEADLINE_S": "3600"}


def test_without_retries_the_probe_answers_overload_as_a_503_that_says_so(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    with start_probe(fragile_torchserve, tmp_path / "probe.log", PROBE_RETRIES="0", **ALL_AT_ONCE) as probe:
        responses = _burst(f"{probe.url}/v1/stability?pairs=1")
    refused = [r for r in responses if r.status_code != 200]
    assert refused, "the burst overflows TorchServe's queue"
    assert {r.status_code for r in refused} == {503}
    for response in refused:
        body = response.json()
        assert body["code"] == "overloaded" and "queue is full" in body["message"], body
        assert int(response.headers["retry-after"]) >= 1


RETRIES = 12


def test_with_retries_every_probe_request_gets_through(fragile_torchserve: TorchServe, tmp_path: Path) -> None:
    # 12 retries wait about 20 s in all (jittered, doubling up to 5 s): the burst drains well within it even on a
    # loaded 2-core machine (8, about 10 s, ran out once there).
    with start_probe(fragile_torchserve, tmp_path / "probe.log", PROBE_RETRIES=str(RETRIES), **ALL_AT_ONCE) as probe:
        responses = _burst(f"{probe.url}/v1/stability?pairs=1")
        metrics = httpx.get(f"{probe.url}/metrics").text
    assert [r.status_code for r in responses] == [200] * BURST, [
        r.text[:200] for r in responses if r.status_code != 200
    ]
    retries = sample_value(metrics, "probe_torchserve_retries_total", reason="503")
    assert 0 < retries <= RETRIES * BURST, "refused requests were retried, each a bounded number of times"


def test_a_shift_request_beyond_one_request_is_refused_with_413_at_once_and_the_service_sends_it_in_chunks(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """Views x crop area beyond what one request may hold (here the batch's view-pixel budget) are a 413 naming the
    limit, at once, from TorchServe (before, such a request was run, whatever its memory); the probe service sends
    a probe of that size in chunks, each within the limit, and answers it whole."""
    views = MAX_VIEW_PIXELS_PER_BATCH // MAX_CROP_SIZE**2 + 1
    offsets = tuple((d, d) for d in range(views))
    shifts = ShiftRequest(offsets=offsets, mode="circular", crop_size=MAX_CROP_SIZE, resize_size=MAX_CROP_SIZE)
    started = time.monotonic()
    direct = fragile_torchserve.predict(CIRCULAR_MODEL, IMAGE, shifts=json.dumps(shifts.to_json()))
    direct_s = time.monotonic() - started
    with start_probe(fragile_torchserve, tmp_path / "probe.log") as probe:
        query = f"protocol=grid&step=8&max_shift=32&crop_size={MAX_CROP_SIZE}&resize_size={MAX_CROP_SIZE + 32}"
        probed = httpx.post(f"{probe.url}/v1/stability?{query}", content=IMAGE, timeout=120)  # 25 views
        chunks = sample_value(httpx.get(f"{probe.url}/metrics").text, "probe_scheduler_chunks_total")
    assert direct.status_code == 413, direct.text
    assert direct.json()["code"] == "too_many_pixels"
    assert "max_view_pixels_per_request" in direct.json()["message"]
    assert direct_s < AT_ONCE_S, f"answered after {direct_s:.1f} s"
    assert probed.status_code == 200, probed.text
    assert len(probed.json()["shifts"]) == 25 and chunks == 3, "chunks of 12 views of 512 x 512 (the default size)"


def _infer_body(images: list[bytes]) -> dict:
    data = [base64.b64encode(image).decode() for image in images]
    return {"inputs": [{"name": "image", "shape": [len(images)], "datatype": "BYTES", "data": data}]}


def test_an_oip_request_of_many_large_images_is_sent_in_waves_and_one_beyond_its_limit_refused_at_once(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """The attack: 64 black 7000 x 7000 PNGs in one /v2 request, each within every limit, went to TorchServe at
    once; its batches decode two of them, the others were told to retry until the probe's retries ran out (503
    after 68 s). Now the images go in waves of what one batch decodes (PROBE_OIP_PIXELS_AT_ONCE), so a request of
    4 batches' worth is answered, and one whose images exceed PROBE_OIP_MAX_PIXELS is refused at once (413)."""
    largest = black_png(MAX_IMAGE_PIXELS - 1)
    per_wave = MAX_PIXELS_PER_BATCH // MAX_IMAGE_PIXELS
    url_path = f"/v2/models/{CIRCULAR_MODEL}/infer"
    with start_probe(fragile_torchserve, tmp_path / "probe.log", PROBE_RETRIES="0") as probe:
        started = time.monotonic()
        refused = httpx.post(f"{probe.url}{url_path}", json=_infer_body([largest] * 12), timeout=120)
        refused_s = time.monotonic() - started
        answered = httpx.post(f"{probe.url}{url_path}", json=_infer_body([largest] * OIP_WAVES * per_wave), timeout=120)
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "too_many_pixels" and "PROBE_OIP_MAX_PIXELS" in refused.json()["error"]
    assert refused_s < AT_ONCE_S, f"answered after {refused_s:.1f} s"
    assert answered.status_code == 200, "no retry needed: no wave crowds another out of a batch"
