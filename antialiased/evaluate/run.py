"""One evaluation run: data, models and protocol in; shards as it goes; figures, table, plots and report out."""

from __future__ import annotations

import time
from typing import Any

from tqdm import tqdm

from antialiased.datasets import NO_LABEL, DataError, Dataset, discover, discover_sequences, load_label_map
from antialiased.evaluate.config import EvaluationConfig
from antialiased.evaluate.engines.base import Engine, ImageResult, WorkItem
from antialiased.evaluate.engines.endpoint import served_label_sets
from antialiased.evaluate.engines.kinds import engine_kind
from antialiased.evaluate.model_specs import LoadedModel, ModelSource, load_model, parse_model_spec, unique_names
from antialiased.evaluate.outputs import finish
from antialiased.evaluate.perturbations import alexnet_figures
from antialiased.evaluate.plans import all_plans
from antialiased.evaluate.resolved import Run
from antialiased.evaluate.store import RunStore, ShardWriter
from antialiased.label_sets import LabelSet
from antialiased.labels import NUM_CLASSES


class ClassMismatchError(ValueError):
    """The labels name classes the model does not output."""


def evaluate(config: EvaluationConfig) -> dict[str, Any]:
    """Run (or resume) the evaluation of `config` and return the results document (also in results.json)."""
    engine_kind(config.engine)  # an unknown engine fails before anything else
    if not config.models:
        raise ValueError("no model to evaluate: pass --model at least once")
    store = RunStore(config.out, config.shard_size)
    with store.lock():  # before anything slow: a second run into the same directory fails at once
        return _evaluate(config, store)


def _dataset(config: EvaluationConfig, label_set: LabelSet | None) -> Dataset:
    """The images (with their labels: class folders mapped to the models' classes), or for the sequence measure the
    sequences, that `config` evaluates."""
    if config.protocol.sequences:
        if config.labels or config.ground_truth:
            raise ValueError(
                "sequences need no labels (each frame's prediction is compared with the previous frame's, not with "
                "a true class): leave out --labels and --ground-truth"
            )
        return discover_sequences(config.data, layout=config.layout).limited(config.limit)
    if config.layout != "auto":
        raise ValueError("--layout says how a folder of sequences is laid out: it goes with --sequences")
    label_map = load_label_map(config.labels) if config.labels else None
    found = discover(config.data, label_map=label_map, ground_truth=config.ground_truth, label_set=label_set)
    return found.limited(config.limit)


def _label_set(label_sets: dict[str, LabelSet | None]) -> LabelSet | None:
    """The classes the models share (None: not known); ClassMismatchError when they have different ones."""
    known = {name: labels for name, labels in label_sets.items() if labels is not None}
    if len(set(known.values())) > 1:
        sizes = ", ".join(f"{name}: {len(labels)} classes" for name, labels in known.items())
        raise ClassMismatchError(f"the models have different label sets ({sizes}): evaluate them one by one")
    return next(iter(known.values()), None)


def _evaluate(config: EvaluationConfig, store: RunStore) -> dict[str, Any]:
    kind = engine_kind(config.engine)
    if config.protocol.sequences and not kind.scores_sequences:
        raise ValueError(f"the {kind.name} engine does not score sequences yet: use the local engine or --endpoint")
    if config.alexnet is not None:
        alexnet_figures(config.alexnet)  # a bad file fails now, not after the run
    if not config.data.is_dir():  # before the models load
        raise DataError(f"--data {config.data} is not a directory")
    sources = unique_names([parse_model_spec(spec, served=not kind.loads_models) for spec in config.models])
    device = kind.device(config)
    precision = kind.precision(config, device)
    loaded = [load_model(source) for source in sources] if kind.loads_models else []
    sources = [model.source for model in loaded] or sources  # with the registry's arch and filter
    if loaded:
        label_set = _label_set({model.name: model.label_set for model in loaded})
    elif config.protocol.sequences:
        label_set = None
    else:
        label_set = _label_set(served_label_sets([source.spec for source in sources], config.endpoint))
    dataset = _dataset(config, label_set)
    run = Run(config, dataset, sources, loaded, store, kind, device, precision)
    if not config.protocol.sequences:
        _check_classes(dataset, loaded, label_set)
    plans = all_plans(config.protocol, len(dataset.samples), [s.sequence for s in dataset.samples])
    store.open(_manifest(run), config.overwrite)
    images = len(dataset.samples)
    pending = store.pending_shards(images, len(sources))
    items = [
        WorkItem(i, dataset.samples[i].path, dataset.samples[i].label, plans[i], dataset.samples[i].frames)
        for shard in sorted(pending)
        for i in store.shard_indices(shard, images)
    ]
    if items:
        _run_engine(kind.create(config, loaded, sources, device, precision), items, run, pending)
    return finish(run)


def _check_classes(dataset: Dataset, models: list[LoadedModel], label_set: LabelSet | None) -> None:
    top = max(s.label for s in dataset.samples)
    for model in models or ():
        if top >= model.num_classes:
            raise ClassMismatchError(
                f"{model.name} outputs {model.num_classes} classes, but the labels go up to class index {top} "
                f"({dataset.class_name(top)}): evaluate it on data whose labels are its classes (--labels)"
            )
    classes = len(label_set) if label_set is not None else NUM_CLASSES
    if not models and top >= classes:
        raise ClassMismatchError(f"the served models answer {classes} classes; a label is {top}")


def _manifest(run: Run) -> dict[str, Any]:
    """What the run evaluates: a directory resumes only a run with the same manifest."""
    config, weights = run.config, {m.name: m.sha256 for m in run.loaded}
    return {
        "dataset": {"kind": run.dataset.kind, "fingerprint": run.dataset.fingerprint.__dict__, "limit": config.limit},
        "models": [{"name": s.name, "spec": s.spec, "sha256": weights.get(s.name)} for s in run.sources],
        **run.kind.manifest(config),
        "protocol": config.protocol.to_json(),
        "precision": run.precision,
        "shard_size": config.shard_size,
    }


def _rows(result: ImageResult, dataset: Dataset, sources: list[ModelSource]) -> list[dict[str, Any]]:
    sample = dataset.samples[result.index]
    label = None if sample.label == NO_LABEL else sample.label
    base = {"index": result.index, "relpath": sample.relpath, "label": label, "error": result.error}
    return [{"model": s.name, **base, **((result.records or {}).get(s.name) or {})} for s in sources]


def _run_engine(engine: Engine, items: list[WorkItem], run: Run, pending: set[int]) -> None:
    store, images = run.store, len(run.dataset.samples)
    started = time.time()
    store.log_session({"event": "start", "time": started, "engine": run.kind.name, "pending_images": len(items)})
    writer = ShardWriter(store, images, pending)
    views_per_image = {item.index: item.plan.views * len(run.sources) for item in items}
    views = 0
    unit = "seq" if run.config.protocol.sequences else "img"
    progress = {"total": len(items), "unit": unit, "desc": f"evaluating ({run.kind.name})", "smoothing": 0.1}
    with tqdm(**progress, disable=run.config.quiet) as bar:
        for result in engine.run(items):
            writer.add(result.index, _rows(result, run.dataset, run.sources))
            views += _views(result, views_per_image[result.index], run.config.protocol.sequences)
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
            "served_weights": engine.served_weights,  # what an endpoint reports serving
        }
    )


def _views(result: ImageResult, planned: int, sequences: bool) -> int:
    """The views the models classified for `result`: its plan's (`planned`, for all models); of a sequence, the frames
    each model classified (a video's are known once it is decoded; none where it could not be read)."""
    if not sequences:
        return planned
    return sum(record.get("seq_frames", 0) for record in (result.records or {}).values())
