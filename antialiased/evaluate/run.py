"""One evaluation run: data, models and protocol in; shards as it goes; figures, table, plots and report out."""

from __future__ import annotations

import time
from typing import Any

import torch
from tqdm import tqdm

from antialiased.evaluate.config import ENGINES, EvaluationConfig
from antialiased.evaluate.data import Dataset, discover, load_label_map
from antialiased.evaluate.engines.base import Engine, ImageResult, WorkItem, resolve_device, resolve_precision
from antialiased.evaluate.models import LoadedModel, ModelSource, load_model, parse_model_spec, unique_names
from antialiased.evaluate.outputs import finish
from antialiased.evaluate.plans import all_plans
from antialiased.evaluate.store import RunStore, ShardWriter
from antialiased.labels import NUM_CLASSES


class ClassMismatchError(ValueError):
    """The labels name classes the model does not output."""


def evaluate(config: EvaluationConfig) -> dict[str, Any]:
    """Run (or resume) the evaluation of `config` and return the results document (also in results.json)."""
    if config.engine not in ENGINES:
        raise ValueError(f"unknown engine {config.engine!r}; use one of {', '.join(ENGINES)}")
    if not config.models:
        raise ValueError("no model to evaluate: pass --model at least once")
    store = RunStore(config.out, config.shard_size)
    with store.lock():  # before anything slow: a second run into the same directory fails at once
        return _evaluate(config, store)


def _evaluate(config: EvaluationConfig, store: RunStore) -> dict[str, Any]:
    label_map = load_label_map(config.labels) if config.labels else None
    dataset = discover(config.data, label_map=label_map, ground_truth=config.ground_truth).limited(config.limit)
    served = config.engine == "endpoint"
    sources = unique_names([parse_model_spec(spec, served=served) for spec in config.models])
    device = _device(config)
    precision = "served" if served else resolve_precision(config.precision, device)
    loaded = [] if served else [load_model(source) for source in sources]
    sources = sources if served else [model.source for model in loaded]  # with the registry's arch and filter
    _check_classes(dataset, loaded)
    plans = all_plans(config.protocol, len(dataset.samples))
    store.open(_manifest(config, dataset, sources, loaded, precision), config.overwrite)
    images = len(dataset.samples)
    pending = store.pending_shards(images, len(sources))
    items = [
        WorkItem(i, dataset.samples[i].path, dataset.samples[i].label, plans[i])
        for shard in sorted(pending)
        for i in store.shard_indices(shard, images)
    ]
    engine = _engine(config, loaded, sources, device, precision) if items else None
    if engine is not None:
        _run_engine(engine, items, dataset, sources, store, pending, images, config.quiet)
    return finish(config, dataset, sources, loaded, store, engine, device, precision)


def _device(config: EvaluationConfig) -> torch.device:
    """Where the models run: this machine's device; for Ray, the actors' (a GPU when they are given one)."""
    if config.engine == "endpoint":
        return torch.device("cpu")  # nothing runs here; the served model's precision is the server's
    if config.engine == "ray":
        return torch.device("cuda" if config.ray.gpus_per_actor > 0 else "cpu")
    return resolve_device(config.device)


def _check_classes(dataset: Dataset, models: list[LoadedModel]) -> None:
    top = max(s.label for s in dataset.samples)
    for model in models or ():
        if top >= model.num_classes:
            raise ClassMismatchError(
                f"{model.name} outputs {model.num_classes} classes, but the labels go up to class index {top} "
                f"({dataset.class_name(top)}): evaluate it on data whose labels are its classes (--labels)"
            )
    if not models and top >= NUM_CLASSES:
        raise ClassMismatchError(f"served models answer ImageNet's {NUM_CLASSES} classes; a label is {top}")


def _manifest(
    config: EvaluationConfig, dataset: Dataset, sources: list[ModelSource], loaded: list[LoadedModel], precision: str
) -> dict[str, Any]:
    """What the run evaluates: a directory resumes only a run with the same manifest."""
    weights = {m.name: m.sha256 for m in loaded}
    return {
        "dataset": {"kind": dataset.kind, "fingerprint": dataset.fingerprint.__dict__, "limit": config.limit},
        "models": [{"name": s.name, "spec": s.spec, "sha256": weights.get(s.name)} for s in sources],
        "endpoint": config.endpoint.url if config.engine == "endpoint" else None,
        "protocol": config.protocol.to_json(),
        "precision": precision,
        "shard_size": config.shard_size,
    }


def _engine(
    config: EvaluationConfig, loaded: list[LoadedModel], sources: list[ModelSource], device, precision: str
) -> Engine:
    if config.engine == "ray":
        from antialiased.evaluate.engines.ray_engine import RayEngine  # Ray is imported only for this engine

        return RayEngine(
            loaded,
            options=config.ray,
            precision=precision,
            batch_size=config.protocol.batch_size,
            max_views=config.max_views,
        )
    if config.engine == "endpoint":
        from antialiased.evaluate.engines.endpoint import EndpointEngine

        return EndpointEngine([s.name for s in sources], config.endpoint)
    from antialiased.evaluate.engines.local import LocalEngine

    return LocalEngine(
        loaded,
        device=device,
        precision=precision,
        batch_size=config.protocol.batch_size,
        workers=config.workers,
        max_views=config.max_views,
    )


def _rows(result: ImageResult, dataset: Dataset, sources: list[ModelSource]) -> list[dict[str, Any]]:
    sample = dataset.samples[result.index]
    base = {"index": result.index, "relpath": sample.relpath, "label": sample.label, "error": result.error}
    return [{"model": s.name, **base, **((result.records or {}).get(s.name) or {})} for s in sources]


def _run_engine(
    engine: Engine,
    items: list[WorkItem],
    dataset: Dataset,
    sources: list[ModelSource],
    store: RunStore,
    pending: set[int],
    images: int,
    quiet: bool,
) -> None:
    started = time.time()
    store.log_session({"event": "start", "time": started, "engine": engine.name, "pending_images": len(items)})
    writer = ShardWriter(store, images, pending)
    views_per_image = {item.index: item.plan.views for item in items}
    views = 0
    with tqdm(total=len(items), unit="img", desc=f"evaluating ({engine.name})", disable=quiet, smoothing=0.1) as bar:
        for result in engine.run(items):
            writer.add(result.index, _rows(result, dataset, sources))
            views += views_per_image[result.index] * len(sources)
            bar.update(1)
            bar.set_postfix_str(f"{views / max(time.time() - started, 1e-9):.1f} views/s", refresh=False)
    elapsed = time.time() - started
    store.log_session(
        {
            "event": "end",
            "time": time.time(),
            "computed_images": len(items),
            "seconds": elapsed,
            "views": views,
            "served_weights": getattr(engine, "weights", {}),  # what the endpoint reports serving
        }
    )
