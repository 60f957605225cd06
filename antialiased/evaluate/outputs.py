"""What a finished run writes: the per-image table, the figures (results.json, written last), plots and report."""

from __future__ import annotations

import datetime
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from antialiased.evaluate import plots
from antialiased.evaluate.perturbations import summarize_imagenet_p
from antialiased.evaluate.report import render_report
from antialiased.evaluate.store import IMAGES_FILE, PLOT_FILES, REPORT_FILE, RESULTS_FILE, write_json
from antialiased.evaluate.summary import split_by_model, summarize

if TYPE_CHECKING:
    from antialiased.evaluate.engines.kinds import EngineKind
    from antialiased.evaluate.resolved import Run

COMMON_PACKAGES = ("torch", "torchvision", "numpy", "pyarrow", "matplotlib", "httpx")


def _versions(kind: EngineKind) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (*COMMON_PACKAGES, *kind.packages):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def finish(run: Run) -> dict[str, Any]:
    """Merge the shards into the per-image table and write the figures, plots, report and results.json (last)."""
    config, dataset, sources, store = run.config, run.dataset, run.sources, run.store
    table = store.read_rows()
    store.write_output(IMAGES_FILE, lambda file: pq.write_table(table, file), "wb")
    summary = summarize(table, [s.name for s in sources], config.protocol.measures, dataset.class_name)
    errors = table.filter(pc.equal(table.column("model"), sources[0].name)).to_pylist()
    unreadable = [{"relpath": r["relpath"], "error": r["error"]} for r in errors if r["error"] is not None]
    sessions = store.sessions()
    weights = {m.name: m.sha256 for m in run.loaded}
    for session in sessions:
        weights.update(session.get("served_weights") or {})
    results = {
        "complete": True,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "dataset": {
            "root": str(Path(config.data).resolve()),
            "kind": dataset.kind,
            "unit": "sequences" if config.protocol.sequences else "images",  # what "images" and "evaluated" count
            "images": dataset.total_images,
            "evaluated": len(dataset.samples) - len(unreadable),
            "limit": config.limit,
            "fingerprint": dataset.fingerprint.__dict__,
            "unreadable": unreadable,
            "skipped_folders": [s.__dict__ for s in dataset.skipped_folders],
            "skipped_files": [s.__dict__ for s in dataset.skipped_files],
        },
        "protocol": config.protocol.to_json(),
        "engine": run.kind.name,
        "device": str(run.device),
        "precision": run.precision,
        "versions": _versions(run.kind),
        "models": [{**s.to_json(), "sha256": weights.get(s.name), **summary["models"][s.name]} for s in sources],
        "comparisons": summary["comparisons"],
        "sessions": sessions,
        "files": {"images": IMAGES_FILE, "report": REPORT_FILE},
    }
    if config.protocol.sequences:
        _add_imagenet_p(results, table, [s.name for s in sources], config.alexnet)
    models = {m["name"]: m for m in results["models"]}
    pngs = {}
    if "accuracy" in config.protocol.measures:
        pngs["Accuracy vs consistency"] = (PLOT_FILES[0], plots.accuracy_consistency_png(models))
    if "diagonal" in config.protocol.measures:
        pngs["Diagonal shifts"] = (PLOT_FILES[1], plots.diagonal_png(models))
    if "fractional" in config.protocol.measures:
        pngs["Sub-pixel shifts"] = (PLOT_FILES[2], plots.fractional_png(models))
    for name, png in pngs.values():
        store.write_output(name, lambda file, png=png: file.write(png), "wb")
    report = render_report(results, {title: png for title, (_, png) in pngs.items()})
    store.write_output(REPORT_FILE, lambda file: file.write(report))
    write_json(store.root / RESULTS_FILE, results)
    return results


def _add_imagenet_p(results: dict[str, Any], table: Any, names: list[str], alexnet: Path | None) -> None:
    """ImageNet-P's figures (`perturbations`), where the sequences are ImageNet-P's perturbations."""
    run, models, comparisons = summarize_imagenet_p(split_by_model(table, names), alexnet)
    if not any(figures["perturbations"] for figures in models.values()):
        return
    results["imagenet_p"] = {**run, "comparisons": comparisons}
    for model in results["models"]:
        model["imagenet_p"] = models[model["name"]]
