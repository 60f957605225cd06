"""The handler's own metrics, sent through TorchServe's metrics cache (Prometheus at the metrics address).

TorchServe exposes them when config.properties has `model_metrics_auto_detect=true`.
"""

from __future__ import annotations

from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes

PREPROCESS_TIME = "PreprocessTime"  # ms per batch: parse, decode, crop
INFERENCE_TIME = "InferenceTime"  # ms per batch: the forward pass(es) and softmax
POSTPROCESS_TIME = "PostprocessTime"  # ms per batch: top-k and JSON
REQUESTS_PER_BATCH = "RequestsPerBatch"  # requests TorchServe handed over in one batch
IMAGES_PER_BATCH = "ImagesPerBatch"  # model inputs (crops) of one batch's forward pass
SHIFTS_PER_REQUEST = "ShiftsPerRequest"  # shifted views asked by one shift request
HANDLED_BATCHES = "HandledBatches"  # counter: batches handled
HANDLED_REQUESTS = "HandledRequests"  # counter: requests handled (answered or refused); / HandledBatches = mean batch
REJECTED_INPUTS = "RejectedInputs"  # counter, dimension Reason: requests refused, by error code
SYNTHETIC_REQUESTS = "SyntheticRequests"  # counter, dimension Purpose: readiness and health-check predictions


class HandlerMetrics:
    """Records one batch's metrics into TorchServe's metrics cache (`context.metrics`)."""

    def __init__(self, cache) -> None:
        self._cache = cache

    def batch(self, requests: int, images: int, times_ms: tuple[float, float, float]) -> None:
        """Sizes and step times of one batch."""
        for name, value in zip((PREPROCESS_TIME, INFERENCE_TIME, POSTPROCESS_TIME), times_ms, strict=True):
            self._cache.add_time(name, round(value, 3))
        self._cache.add_metric(REQUESTS_PER_BATCH, requests, "count", metric_type=MetricTypes.GAUGE)
        self._cache.add_metric(IMAGES_PER_BATCH, images, "count", metric_type=MetricTypes.GAUGE)
        self._cache.add_counter(HANDLED_BATCHES, 1)
        self._cache.add_counter(HANDLED_REQUESTS, requests)

    def shifts(self, count: int) -> None:
        """The number of views of one shift request."""
        self._cache.add_metric(SHIFTS_PER_REQUEST, count, "count", metric_type=MetricTypes.GAUGE)

    def rejected(self, code: str) -> None:
        """One refused request, by its error code."""
        self._cache.add_counter(REJECTED_INPUTS, 1, dimensions=[Dimension("Reason", code)])

    def synthetic(self, purpose: str) -> None:
        """One synthetic prediction (readiness or health check), by its purpose."""
        self._cache.add_counter(SYNTHETIC_REQUESTS, 1, dimensions=[Dimension("Purpose", purpose)])
