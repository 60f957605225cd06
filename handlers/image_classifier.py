"""TorchServe entry point: the antialiased (or baseline) classifier handler, on BaseHandler.

Each request of a TorchServe batch is parsed, decoded and cut into its views (one center crop, or one
crop per shift) on the model's device; all views of the batch then go through the model together
(one forward pass per distinct crop size, at most `max_images_per_forward` images each), and the
probabilities are split back per request. A refused request gets its own 4xx JSON answer; the
others of the batch are answered normally. Response headers X-Batch-Id and X-Batch-Size tell which
batch answered a request and how many requests it held.
"""

from __future__ import annotations

import http
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

from antialiased.images import ImageError, decode_image
from antialiased.inference import to_model_input
from antialiased.preprocessing import CROP_SIZE, preprocess
from antialiased.shifts import shifted_views
from handlers.batch import BatchItem
from handlers.metrics import HandlerMetrics
from handlers.model import load_prepared_model, select_device
from handlers.requests import ParsedRequest, RequestError, parse_request
from handlers.responses import error_answer, plain_answer, shift_answer
from handlers.settings import HandlerSettings

log = logging.getLogger(__name__)

# Response headers telling which batch (worker pid and batch number) answered a request, and its size.
BATCH_ID_HEADER = "X-Batch-Id"
BATCH_SIZE_HEADER = "X-Batch-Size"
_OVERLOADED = "this batch already holds as many image views as the model may process at once; retry shortly"


class ImageClassifier(BaseHandler):
    """Classifies images and their shifted views; see the module docstring and the handler contract.

    `initialize` replaces BaseHandler's, which loads only pickled or TorchScript models: this one builds
    the network from model-config.yaml and loads a state_dict with `weights_only` loading.
    """

    def __init__(self) -> None:
        super().__init__()
        self.settings: HandlerSettings | None = None
        self.model_info: dict[str, Any] = {}
        self.weights_info: dict[str, Any] = {}
        self._batches = 0

    def initialize(self, context) -> None:
        """Read model-config.yaml, pick the device, load the weights (hash checked) and prepare the model."""
        self.context = context
        self.manifest = context.manifest
        properties = context.system_properties
        self.settings = HandlerSettings.from_model_config(context.model_yaml_config)
        self.device = select_device(self.settings.device, properties.get("gpu_id"))
        weights_path = Path(properties["model_dir"]) / self.manifest["model"]["serializedFile"]
        self.model = load_prepared_model(self.settings, weights_path, self.device)
        spec, weights = self.settings.model, self.settings.weights
        self.model_info = {
            "name": context.model_name,
            "version": self.manifest["model"].get("modelVersion"),
            "arch": spec.arch,
            "antialiased": spec.antialiased,
            "filter_size": spec.filter_size,
        }
        self.weights_info = {"name": weights.name, "sha256": weights.sha256, "untrained": weights.untrained}
        self._warm_up()
        log.info(
            "serving %s on %s (%s), %d torch threads",
            self.model_info,
            self.device,
            self.weights_info,
            torch.get_num_threads(),
        )
        self.initialized = True

    @torch.inference_mode()
    def _warm_up(self) -> None:
        """One forward pass at load time: a broken model fails here, and the first request is not slowed."""
        self.model(to_model_input(torch.zeros(1, 3, CROP_SIZE, CROP_SIZE, device=self.device)))

    def handle(self, data: list[dict[str, Any]], context) -> list[str]:
        """Answer every request of the batch: JSON strings, with each request's own HTTP status."""
        self.context = context
        start = time.perf_counter()
        items = self.preprocess(data)
        preprocessed = time.perf_counter()
        self.inference(items)
        inferred = time.perf_counter()
        answers = self.postprocess(items)
        done = time.perf_counter()
        self._batches += 1
        batch_id = f"{os.getpid()}-{self._batches}"
        for index, item in enumerate(items):
            context.set_response_content_type(index, "application/json")
            context.set_response_header(index, BATCH_ID_HEADER, batch_id)
            context.set_response_header(index, BATCH_SIZE_HEADER, str(len(items)))
            if item.error is not None:
                context.set_response_status(item.error.status, http.HTTPStatus(item.error.status).phrase, idx=index)
                if item.error.status == http.HTTPStatus.SERVICE_UNAVAILABLE:
                    context.set_response_header(index, "Retry-After", "1")
        metrics = HandlerMetrics(context.metrics)
        images = sum(len(item.views) for item in items if item.views is not None)
        metrics.batch(
            len(items), images, ((preprocessed - start) * 1e3, (inferred - preprocessed) * 1e3, (done - inferred) * 1e3)
        )
        for item in items:
            if item.error is not None:
                metrics.rejected(item.error.code)
            elif item.request.shifts is not None:
                metrics.shifts(len(item.request.shifts.offsets))
        return answers

    def preprocess(self, data: list[dict[str, Any]]) -> list[BatchItem]:
        """Parse, validate and decode each request and cut its views; a refused request keeps its error.

        Requests are admitted in order while the batch's views fit `max_images_per_batch`; a request
        that does not fit is answered 503 "overloaded" (to retry) without being decoded.
        """
        items, budget = [], self.settings.limits.max_images_per_batch
        for index, row in enumerate(data):
            item = self._parse(row, self._request_headers(index))
            if item.request is not None:
                views = 1 if item.request.shifts is None else len(item.request.shifts.offsets)
                if views > budget:
                    item = BatchItem(error=RequestError("overloaded", _OVERLOADED, 503))
                else:
                    budget -= views
                    item = self._decode(item.request)
            items.append(item)
        return items

    def _request_headers(self, index: int) -> dict[str, str]:
        """The HTTP headers of request `index`, names in lower case."""
        headers = self.context.get_all_request_header(index) if self.context.request_processor else {}
        return {name.lower(): value for name, value in headers.items() if isinstance(value, str)}

    def _parse(self, row: dict[str, Any], headers: dict[str, str]) -> BatchItem:
        try:
            return BatchItem(request=parse_request(row, self.settings.limits, headers))
        except RequestError as error:
            return BatchItem(error=error)

    def _decode(self, request: ParsedRequest) -> BatchItem:
        limits = self.settings.limits
        try:
            image = decode_image(
                request.image,
                max_bytes=limits.max_image_bytes,
                max_pixels=limits.max_image_pixels,
                min_side=limits.min_image_side,
                device=self.device,
            )
            views = preprocess(image).unsqueeze(0) if request.shifts is None else shifted_views(image, request.shifts)
        except ImageError as error:
            return BatchItem(error=error)
        except Exception:  # whatever one input does, the worker and the rest of the batch go on
            log.exception("unexpected failure while preparing a request")
            return BatchItem(error=RequestError("internal_error", "the image could not be processed", 500))
        return BatchItem(request=request, views=views)

    @torch.inference_mode()
    def inference(self, items: list[BatchItem]) -> None:
        """Run all views of the batch through the model together and give each request its probabilities."""
        ready = [item for item in items if item.views is not None]
        by_size: dict[tuple[int, ...], list[BatchItem]] = {}
        for item in ready:
            by_size.setdefault(tuple(item.views.shape[1:]), []).append(item)
        for group in by_size.values():
            views = torch.cat([item.views for item in group])
            chunks = views.split(self.settings.limits.max_images_per_forward)
            logits = torch.cat([self.model(to_model_input(chunk, self.settings.channels_last)) for chunk in chunks])
            probabilities = logits.float().softmax(dim=1).cpu()
            for item, part in zip(group, probabilities.split([len(item.views) for item in group]), strict=True):
                item.probabilities = part

    def postprocess(self, items: list[BatchItem]) -> list[str]:
        """Each request's JSON answer: top-k (per shift for shift requests), or its error."""
        return [json.dumps(self._answer(item)) for item in items]

    def _answer(self, item: BatchItem) -> dict[str, Any]:
        if item.error is not None:
            return error_answer(item.error.code, item.error.message)
        request = item.request
        fields = (
            plain_answer(item.probabilities, request.topk)
            if request.shifts is None
            else shift_answer(item.probabilities, request.topk, request.shifts)
        )
        return {"model": self.model_info, "weights": self.weights_info, **fields}
