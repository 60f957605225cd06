"""TorchServe entry point: the antialiased (or baseline) classifier handler, on BaseHandler.

Each request of a TorchServe batch is parsed and its image header checked; a request beyond what one request may
hold (views x crop area beyond `max_view_pixels_per_request`: larger probes come in chunks) is refused at once with
413, and a shift request whose crop is smaller than the model takes (found at load time) with 400. Requests are
admitted while the batch's views, their pixels and the decoded image pixels fit the limits (the others get a 503
with Retry-After, without being decoded); the admitted images are decoded together (every JPEG in one nvJPEG call on
a GPU) and cut into their views (one center crop, or one crop per shift) on the model's device; all views of the
batch then go through the model together (per distinct crop size, in forward passes of at most
`max_view_pixels_per_forward` view pixels), and the probabilities are split back per request. When a forward pass
fails, each request of it runs on its own, so only the one that fails gets a 500. A refused request gets its own
JSON error answer; the others of the batch are answered normally. Response headers X-Batch-Id and X-Batch-Size tell
which batch answered a request and how many requests it held. The wire format is `antialiased.serving.contract`.
"""

from __future__ import annotations

import http
import itertools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

from antialiased.errors import ApiError, ErrorCode, overloaded
from antialiased.imagefile import inspect_image
from antialiased.images import decode_images
from antialiased.inference import smallest_input_side, to_model_input
from antialiased.label_sets import IMAGENET, check_classes, read_label_set
from antialiased.preprocessing import CROP_SIZE
from antialiased.serving.contract import ModelInfo, WeightsInfo
from antialiased.shifts import MIN_CROP_SIZE
from antialiased.transforms import preprocess, shifted_views
from handlers.batch import BatchItem
from handlers.memory import release_free_memory
from handlers.model import load_prepared_model, select_device
from handlers.prometheus_metrics import HandlerMetrics
from handlers.requests import parse_request
from handlers.responses import classification, shift_classification
from handlers.settings import HandlerSettings

log = logging.getLogger(__name__)

# Response headers telling which batch (worker pid and batch number) answered a request, and its size.
BATCH_ID_HEADER = "X-Batch-Id"
BATCH_SIZE_HEADER = "X-Batch-Size"
# Decoding more pixels than this at once gives the freed memory back to the operating system afterwards.
_TRIM_AFTER_PIXELS = 4_000_000


class ImageClassifier(BaseHandler):
    """Classifies images and their shifted views; see the module docstring and the handler contract.

    `initialize` replaces BaseHandler's, which loads only pickled or TorchScript models: this one builds
    the network from model-config.yaml and loads a state_dict with `weights_only` loading.
    """

    def __init__(self) -> None:
        super().__init__()
        self.settings: HandlerSettings | None = None
        self.model_info: ModelInfo | None = None
        self.weights_info: WeightsInfo | None = None
        self.labels = IMAGENET
        self.min_crop_size = MIN_CROP_SIZE
        self._batches = 0

    def initialize(self, context) -> None:
        """Read model-config.yaml, pick the device, load the weights (hash checked) and prepare the model."""
        self.context = context
        self.manifest = context.manifest
        properties = context.system_properties
        self.settings = HandlerSettings.from_model_config(context.model_yaml_config)
        self.device = select_device(self.settings.device, properties.get("gpu_id"))
        model_dir = Path(properties["model_dir"])
        spec, weights = self.settings.model, self.settings.weights
        self.labels = read_label_set(model_dir / spec.labels) if spec.labels else IMAGENET
        check_classes(self.labels, spec.num_classes, f"model-config.yaml's {context.model_name}")
        weights_path = model_dir / self.manifest["model"]["serializedFile"]
        self.model = load_prepared_model(self.settings, weights_path, self.device, self.labels)
        self.model_info = ModelInfo(
            name=context.model_name,
            version=self.manifest["model"].get("modelVersion"),
            arch=spec.arch,
            antialiased=spec.antialiased,
            filter_size=spec.filter_size,
            num_classes=spec.num_classes,
        )
        self.weights_info = weights
        self._warm_up()
        # The eager module of a compiled model: probing other sizes must not recompile it.
        eager = getattr(self.model, "_orig_mod", self.model)
        self.min_crop_size = smallest_input_side(
            eager, self.device, MIN_CROP_SIZE, CROP_SIZE, self.settings.channels_last
        )
        log.info(
            "serving %s on %s (%s), %d torch threads, crops of at least %d pixels",
            self.model_info.model_dump(),
            self.device,
            self.weights_info.model_dump(),
            torch.get_num_threads(),
            self.min_crop_size,
        )
        self.initialized = True

    @torch.inference_mode()
    def _warm_up(self) -> None:
        """One forward pass at load time: a broken model, or one of other classes than its label set's, fails here,
        and the first request is not slowed."""
        output = self.model(to_model_input(torch.zeros(1, 3, CROP_SIZE, CROP_SIZE, device=self.device)))
        check_classes(self.labels, output.shape[1], f"the network of {self.model_info.name}")

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
                for name, value in item.error.headers.items():
                    context.set_response_header(index, name, value)
        self._record_metrics(HandlerMetrics(context.metrics), items, (start, preprocessed, inferred, done))
        return answers

    @staticmethod
    def _record_metrics(metrics: HandlerMetrics, items: list[BatchItem], times: tuple[float, ...]) -> None:
        images = sum(len(item.views) for item in items if item.views is not None)
        metrics.batch(len(items), images, tuple((end - begin) * 1e3 for begin, end in itertools.pairwise(times)))
        for item in items:
            if item.request is not None and item.request.purpose is not None:
                metrics.synthetic(item.request.purpose)
            if item.error is not None:
                metrics.rejected(item.error.code)
            elif item.request.shifts is not None:
                metrics.shifts(item.request.views)

    def preprocess(self, data: list[dict[str, Any]]) -> list[BatchItem]:
        """Parse and admit each request, decode the admitted images and cut their views; a refused request keeps
        its error. See `_admit` for which requests a batch takes.

        On a GPU every JPEG of the batch is decoded in one call; on the CPU one image at a time, so that only one
        full-size image is in memory at once, and the memory of a large one goes back to the system at once.
        """
        items = self._admit([self._parse(row, self._request_headers(index)) for index, row in enumerate(data)])
        admitted = [item for item in items if item.admitted]
        groups = [admitted] if self.device.type == "cuda" else [[item] for item in admitted]
        limits = self.settings.limits.image
        for group in groups:
            datas, infos = [item.request.image for item in group], [item.info for item in group]
            images = decode_images(datas, limits, self.device, infos)  # headers read once, by _admit
            for item, image in zip(group, images, strict=True):
                if isinstance(image, ApiError):
                    item.error = image
                else:
                    self._cut_views(item, image)
            if sum(item.info.pixels for item in group) > _TRIM_AFTER_PIXELS:
                release_free_memory()
        return items

    def _admit(self, items: list[BatchItem]) -> list[BatchItem]:
        """Admit requests in order while the batch's views fit `max_images_per_batch`, their pixels (views x crop
        area) `max_view_pixels_per_batch` and its decoded pixels (read from the image headers)
        `max_pixels_per_batch`; the others get 503 overloaded, without being decoded. A request that fits no batch
        was refused by `parse_request` already."""
        limits = self.settings.limits
        views_left, view_pixels_left = limits.max_images_per_batch, limits.max_view_pixels_per_batch
        pixels_left = limits.max_pixels_per_batch
        for item in items:
            if not item.admitted:
                continue
            try:
                item.info = inspect_image(item.request.image, limits.image)
            except ApiError as error:
                item.error = error
                continue
            request = item.request
            if request.views > views_left or request.view_pixels > view_pixels_left or item.info.pixels > pixels_left:
                item.error = overloaded(
                    f"this batch already holds as many views ({limits.max_images_per_batch}), view pixels "
                    f"({limits.max_view_pixels_per_batch}) or decoded pixels ({limits.max_pixels_per_batch}) as one "
                    "batch may; retry shortly"
                )
                continue
            views_left -= request.views
            view_pixels_left -= request.view_pixels
            pixels_left -= item.info.pixels
        return items

    def _request_headers(self, index: int) -> dict[str, str]:
        """The HTTP headers of request `index`, names in lower case."""
        headers = self.context.get_all_request_header(index) if self.context.request_processor else {}
        return {name.lower(): value for name, value in headers.items() if isinstance(value, str)}

    def _parse(self, row: dict[str, Any], headers: dict[str, str]) -> BatchItem:
        try:
            request = parse_request(row, self.settings.limits, headers)
        except ApiError as error:
            return BatchItem(error=error)
        if request.shifts is not None and request.shifts.crop_size < self.min_crop_size:
            message = (
                f"crop_size {request.shifts.crop_size} is smaller than model {self.model_info.name} takes: "
                f"at least {self.min_crop_size}"
            )
            return BatchItem(error=ApiError(ErrorCode.BAD_SHIFT_REQUEST, message))
        return BatchItem(request=request)

    def _cut_views(self, item: BatchItem, image: torch.Tensor) -> None:
        """The request's views, on the model's device, from its decoded image."""
        shifts = item.request.shifts
        try:
            if shifts is None:
                item.views = preprocess(image, device=self.device).unsqueeze(0)
            else:
                item.views = shifted_views(image, shifts, device=self.device)
        except Exception:  # whatever one input does, the worker and the rest of the batch go on
            log.exception("unexpected failure while preparing a request")
            item.error = ApiError(ErrorCode.INTERNAL_ERROR, "the image could not be processed", 500)

    @torch.inference_mode()
    def inference(self, items: list[BatchItem]) -> None:
        """Run all views of the batch through the model together and give each request its probabilities; when a
        forward pass fails, run each request of it on its own, so that only the failing one gets an error."""
        ready = [item for item in items if item.views is not None and item.error is None]
        by_size: dict[tuple[int, ...], list[BatchItem]] = {}
        for item in ready:
            by_size.setdefault(tuple(item.views.shape[1:]), []).append(item)
        for group in by_size.values():
            self._classify_isolated(group)

    def _classify_isolated(self, group: list[BatchItem]) -> None:
        """`_classify(group)`; when it fails, each request of the group on its own, and the failing one gets 500."""
        try:
            self._classify(group)
        except Exception:  # whatever one input does, the worker and the rest of the batch go on
            if len(group) == 1:
                log.exception("a request failed in the forward pass")
                group[0].error = ApiError(ErrorCode.INTERNAL_ERROR, "the model failed on this request's views", 500)
                return
            log.warning("a forward pass of %d requests failed; running each on its own", len(group))
            for item in group:
                self._classify_isolated([item])

    def _classify(self, group: list[BatchItem]) -> None:
        """The probabilities of every view of `group` (requests whose views have one shape), in forward passes of
        at most `max_view_pixels_per_forward` view pixels."""
        height, width = group[0].views.shape[-2:]
        per_forward = self.settings.limits.max_view_pixels_per_forward // (height * width)
        views = itertools.chain.from_iterable(item.views for item in group)  # rows, not copies
        logits = []
        while chunk := list(itertools.islice(views, per_forward)):
            logits.append(self.model(to_model_input(torch.stack(chunk), self.settings.channels_last)))
        probabilities = torch.cat(logits).float().softmax(dim=1).cpu()
        for item, part in zip(group, probabilities.split([len(item.views) for item in group]), strict=True):
            item.probabilities = part

    def postprocess(self, items: list[BatchItem]) -> list[str]:
        """Each request's JSON answer: top-k (per shift for shift requests), or its error body."""
        return [self._answer(item) for item in items]

    def _answer(self, item: BatchItem) -> str:
        if item.error is not None:
            return json.dumps(item.error.body())
        request, model, weights, labels = item.request, self.model_info, self.weights_info, self.labels
        if request.shifts is None:
            return classification(model, weights, item.probabilities, request.topk, labels,
                                  every_class=request.probabilities, label_set=request.labels)  # fmt: skip
        return shift_classification(model, weights, item.probabilities, request.topk, request.shifts, labels,
                                    every_class=request.probabilities)  # fmt: skip
