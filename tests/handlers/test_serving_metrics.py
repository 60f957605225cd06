"""TorchServe's Prometheus endpoint carries the handler's metrics, and they show that requests are batched."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from antialiased.shifts import ShiftRequest
from handlers import prometheus_metrics as handler_metrics
from handlers.image_classifier import BATCH_SIZE_HEADER
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.serving import batch_of, burst_until, encode, photo
from tests.support.waiting import wait_until

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


def _wait_for(torchserve, condition, what: str) -> dict[tuple[str, frozenset], float]:
    """TorchServe's metrics once `condition` holds for them (it publishes the handler's metrics after a while)."""
    return wait_until(lambda: samples if condition(samples := _samples(torchserve)) else None, 20, what, every_s=0.25)


def test_concurrent_requests_are_batched(torchserve):
    before = _samples(torchserve)
    image = encode(photo("coffee"))
    sent = []

    def send(number: int) -> httpx.Response:
        sent.append(number)
        return torchserve.predict(MODEL, image)

    responses = burst_until(send, list(range(16)), lambda answers: max(map(_batch_size, answers)) > 1)
    assert all(response.status_code == 200 for response in responses)
    assert len({batch_of(response) for response in responses}) < len(responses)

    def delta(samples, name):
        return _model_value(samples, name) - _model_value(before, name)

    handled = handler_metrics.HANDLED_REQUESTS
    after = _wait_for(torchserve, lambda s: delta(s, handled) >= len(sent), "every request counted")
    requests, batches = delta(after, handled), delta(after, handler_metrics.HANDLED_BATCHES)
    assert requests == len(sent)
    assert batches < requests  # several requests per forward pass


def _batch_size(response: httpx.Response) -> int:
    return int(response.headers[BATCH_SIZE_HEADER])


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

    samples = _wait_for(torchserve, complete, "the handler's metrics published")
    for name in names:
        assert any(sample == name and ("ModelName", MODEL) in labels for sample, labels in samples), name
    assert _model_value(samples, handler_metrics.REJECTED_INPUTS, Reason="invalid_image") >= 1
    assert any(metric == "ts_inference_requests" for metric, _ in samples)  # TorchServe's own (family name)
