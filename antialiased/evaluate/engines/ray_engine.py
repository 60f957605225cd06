"""The distributed engine: Ray Data reads and decodes the images across the cluster, a pool of actors runs the models.

    from_items(work) -> map_batches(decode, tasks) -> map_batches(_ModelActor, actors) -> rows to the driver

Decoding runs in Ray tasks (on any node); each actor loads the networks once (shipped through Ray's
object store, so nodes need no copy of the weights), cuts each image's views from its decoded tensor and
scores them with the same code as the local engine. This module is imported only when `--engine ray`
is chosen, so nothing of Ray is loaded otherwise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
import torch

from antialiased.evaluate.config import RayOptions
from antialiased.evaluate.engines.base import (
    ImageResult,
    InProcessEngine,
    PreparedModels,
    WorkItem,
    decode_for,
    resolve_device,
)
from antialiased.evaluate.model_specs import LoadedModel
from antialiased.evaluate.scoring import cut_views

DECODE_CPUS = 0.25  # decoding a photo takes a fraction of a model forward: let it share CPUs with the actors


@dataclass(frozen=True)
class _Decoded:
    """One decoded image (uint8 (3, H, W)) or why it cannot be read. Rows carry whole objects: Ray would turn
    a column of None into NaN."""

    item: WorkItem
    image: np.ndarray | None
    error: str | None


def _decode(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ray task: decode each image of the batch with the library's decoder (or record why it cannot be read)."""
    decoded = []
    for item in batch["item"]:
        image, error = decode_for(item)
        decoded.append(_Decoded(item, None if image is None else image.numpy(), error))
    return {"decoded": _objects(decoded)}


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class _ModelActor:
    """Ray actor: the prepared networks on this actor's device; scores the views of a batch of decoded images."""

    def __init__(self, networks_ref: Any, precision: str, max_views: int, threads: int) -> None:
        torch.set_num_threads(threads)
        device = resolve_device("cuda" if ray.get_gpu_ids() else "cpu")
        self.prepared = PreparedModels(ray.get(networks_ref[0]), device, precision, max_views)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        decoded = list(batch["decoded"])
        results = [ImageResult(d.item.index, error=d.error) for d in decoded if d.image is None]
        ready = [(d.item, cut_views(torch.from_numpy(d.image), d.item.plan)) for d in decoded if d.image is not None]
        results += self.prepared.score(ready)
        return {"result": _objects(results)}


class RayEngine(InProcessEngine):
    """All models in `options.actors` Ray actors (each with `cpus_per_actor` CPUs, `gpus_per_actor` GPUs)."""

    def __init__(
        self, models: list[LoadedModel], *, options: RayOptions, precision: str, batch_size: int, max_views: int
    ) -> None:
        if not ray.is_initialized():
            ray.init(address=options.address, log_to_driver=False, logging_level=logging.WARNING)
        # The run's own progress bar reports progress: Ray Data's bars and execution logs would interleave with it.
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.enable_fallback_to_arrow_object_ext_type = True  # work items and results travel as Python objects
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        self.networks = {m.name: m.network for m in models}
        self.options = options
        self.precision = precision
        self.batch_size = batch_size
        self.max_views = max_views

    def run(self, items: list[WorkItem]) -> Iterator[ImageResult]:
        options = self.options
        # A list: Ray resolves an ObjectRef passed directly as an argument, and the actors should do it themselves.
        networks_ref = [ray.put(self.networks)]
        work = ray.data.from_items([{"item": item} for item in items])
        decoded = work.map_batches(_decode, batch_size=self.batch_size, num_cpus=DECODE_CPUS)
        scored = decoded.map_batches(
            _ModelActor,
            fn_constructor_kwargs={
                "networks_ref": networks_ref,
                "precision": self.precision,
                "max_views": self.max_views,
                "threads": max(1, math.ceil(options.cpus_per_actor)),
            },
            batch_size=self.batch_size,
            compute=ray.data.ActorPoolStrategy(size=options.actors),
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
        )
        for row in scored.iter_rows():
            yield row["result"]
