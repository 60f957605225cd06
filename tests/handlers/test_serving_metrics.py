"""TorchServe's Prometheus endpoint carries the handler's metrics, and they show that requests are batched."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from antialiased.shifts import ShiftRequest
from handlers import prometheus_metrics as handler_metrics
from handlers.image_classifier import BATCH_ID_HEADER, BATCH_SIZE_HEADER
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.serving import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]

MODEL = CIRCULAR_MODEL  # the cheapest model: these tests are about TorchServe and the handler, not the network


def _samples(torchserve) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(f"{torchserve.metrics_url}/metrics", timeout=10).text
    return {
        (family.name, frozenset(sample.labels.items())): sample.value  # family name: counters lose "_total"
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _model_value(samples, name: str, **labels: str) -> float:
    """Sum of the samples of metric `name` for MODEL (matching `labels`)."""
    wanted = {("ModelName", MODEL), *labels.items()}
    return sum(value for (metric, found), value in samples.items() if metric == name and wanted <= found)


def _wait_for(torchserve, condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        samples = _samples(torchserve)
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.25)


def test_concurrent_requests_are_batched(torchserve):
    before = _samples(torchserve)
    image = encode(photo("coffee"))
    count = 16
    with ThreadPoolExecutor(count) as pool:
        responses = list(pool.map(lambda _: torchserve.predict(MODEL, image), range(count)))
    assert all(response.status_code == 200 for response in responses)
    assert max(int(response.headers[BATCH_SIZE_HEADER]) for response in responses) > 1
    assert len({response.headers[BATCH_ID_HEADER] for response in responses}) < count

    def delta(samples, name):
        return _model_value(samples, name) - _model_value(before, name)

    after = _wait_for(torchserve, lambda s: delta(s, handler_metrics.HANDLED_REQUESTS) >= count)
    requests, batches = delta(after, handler_metrics.HANDLED_REQUESTS), delta(after, handler_metrics.HANDLED_BATCHES)
    assert requests == count
    assert batches < requests  # several requests per forward pass


def test_handler_metrics_appear_at_the_prometheus_endpoint(torchserve):
    shifts = ShiftRequest(offsets=((0, 0), (3, 3), (5, 9)), mode="crop")
    assert torchserve.predict(MODEL, encode(photo("rocket")), shifts=json.dumps(shifts.to_json())).status_code == 200
    assert torchserve.predict(MODEL, b"no image here").status_code == 400
    names = (
        handler_metrics.PREPROCESS_TIME,
        handler_metrics.INFERENCE_TIME,
        handler_metrics.POSTPROCESS_TIME,
        handler_metrics.REQUESTS_PER_BATCH,
        handler_metrics.IMAGES_PER_BATCH,
        handler_metrics.SHIFTS_PER_REQUEST,
    )

    def complete(samples):
        present = all(any(key[0] == name for key in samples) for name in names)
        return present and _model_value(samples, handler_metrics.REJECTED_INPUTS, Reason="invalid_image") >= 1

    samples = _wait_for(torchserve, complete)
    for name in names:
        assert any(sample == name and ("ModelName", MODEL) in labels for sample, labels in samples), name
    assert _model_value(samples, handler_metrics.REJECTED_INPUTS, Reason="invalid_image") >= 1
    assert any(metric == "ts_inference_requests" for metric, _ in samples)  # TorchServe's own (family name)
