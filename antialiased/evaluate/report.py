"""One self-contained HTML report of a run: figures with intervals, comparisons, plots, classes, skipped inputs.

Plots are embedded as base64 PNG `data:` URLs and the style sheet is inline: the file opens anywhere,
offline, and can be mailed as it is.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from antialiased.evaluate.summary import FIGURES

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
.ci { color: #777; font-size: 0.8em; }
.significant { font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5rem 0; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def _estimate(estimate: dict[str, Any] | None) -> str:
    if estimate is None or estimate["value"] is None:
        return "–"
    return f'{estimate["value"]:.2f} <span class="ci">[{estimate["ci_low"]:.2f}, {estimate["ci_high"]:.2f}]</span>'


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _image(title: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<h3>{escape(title)}</h3><img alt="{escape(title)}" src="data:image/png;base64,{data}">'


def render_report(results: dict[str, Any], plots: dict[str, bytes]) -> str:
    """The HTML page of `results` (the results.json document) with `plots` (title -> PNG bytes)."""
    models = results["models"]
    figures = [f for f in FIGURES if f.measure in results["protocol"]["measures"]]
    dataset, protocol = results["dataset"], results["protocol"]
    unit = dataset.get("unit", "images")
    if "sequence" in protocol["measures"]:
        how = (
            "each frame classified as a plain image (its 224 center crop of the image resized to 256); flip rate, "
            "mean top-5 distance and wobble between consecutive frames (ImageNet-P), the sequences the units"
        )
    else:
        how = (
            f"consistency mode <b>{escape(protocol['mode'])}</b>, seed {protocol['seed']}, "
            f"{protocol['epochs_shift']} shift passes, batch {protocol['batch_size']}"
        )
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Shift-robustness evaluation: {escape(', '.join(m['name'] for m in models))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Shift-robustness evaluation</h1>",
        f"<p>Data <code>{escape(dataset['root'])}</code> ({escape(dataset['kind'])}): "
        f"{dataset['evaluated']} {unit} evaluated of {dataset['images']}, {len(dataset['unreadable'])} unreadable, "
        f"fingerprint <code>{dataset['fingerprint']['sha256'][:16]}…</code>. "
        f"Protocol: {how}. "
        f"Engine {escape(results['engine'])}, {escape(results['device'])} {escape(results['precision'])}.</p>",
        "<h2>Figures (percent, 95% confidence interval)</h2>",
        _table(
            ["model", *[f.title for f in figures]],
            [
                [f'<span class="model">{escape(m["name"])}</span>']
                + [_estimate(m["figures"].get(f.name)) for f in figures]
                for m in models
            ],
            "figures",
        ),
        _table(
            ["model", "source", "weights sha256", unit],
            [
                [escape(m["name"]), escape(m["spec"]), f"<code>{escape(str(m['sha256']))}</code>", str(m["images"])]
                for m in models
            ],
        ),
    ]
    if results["comparisons"]:
        same = "sequences" if unit == "sequences" else "images and offsets"
        parts.append(f"<h2>Paired differences (first − second, same {same})</h2>")
        parts.append("<p>Bold: the 95% interval excludes 0, a real difference.</p>")
        rows = []
        for c in results["comparisons"]:
            cells = [f"{escape(c['a'])} − {escape(c['b'])}"]
            for f in figures:
                d = c["differences"][f.name]
                cells.append(f'<span class="{"significant" if d["significant"] else ""}">{_estimate(d)}</span>')
            rows.append(cells)
        parts.append(_table(["models", *[f.title for f in figures]], rows, "comparisons"))
    if "imagenet_p" in results:
        parts.append(_imagenet_p(results))
    if any(m.get("sequences") for m in models):
        parts.append(_sequence_table(models))
    if plots:
        parts.append("<h2>Plots</h2>")
        parts.extend(_image(title, png) for title, png in plots.items())
    for m in models:
        if not m["per_class"]:
            continue
        parts.append(f"<h2>Classes: {escape(m['name'])}</h2>")
        if m["least_consistent_classes"]:
            parts.append("<h3>Least consistent classes</h3>")
            parts.append(_class_table(m["least_consistent_classes"]))
        parts.append(
            f"<details><summary>All {len(m['per_class'])} classes</summary>{_class_table(m['per_class'])}</details>"
        )
    parts.append(_skipped(dataset))
    parts.append("</body></html>")
    return "\n".join(parts)


def _sequence_table(models: list[dict[str, Any]]) -> str:
    """Each sequence's flip rate (percent of consecutive frames whose top-1 changes) by each model, then its mean
    top-5 distance and wobble; a sequence a model did not score (an unreadable frame) is left out."""
    scored = [{s["name"]: s for s in m["sequences"] or ()} for m in models]
    names = [s["name"] for s in models[0]["sequences"] or ()]
    metrics = (("flip rate %", "flip_rate", 100, 1), ("top-5 distance", "mean_top5_distance", 1, 2),
               ("wobble %", "wobble", 100, 1))  # fmt: skip
    header = ["sequence", "frames"]
    header += [f"{title}: {m['name']}" for title, *_ in metrics for m in models]
    rows = []
    for name in names:
        cells = [f'<span class="text">{escape(name)}</span>', str(scored[0][name]["frames"])]
        for _, key, scale, digits in metrics:
            cells += [f"{scale * by[name][key]:.{digits}f}" if name in by else "–" for by in scored]
        rows.append(cells)
    heading = "<h2>Sequences: flip rate from frame to frame</h2>"
    note = (
        "<p>Per sequence: the share of consecutive frames whose top-1 changes (ImageNet-P's flip probability), the "
        "mean top-5 distance between consecutive frames (0–15) and the wobble (mean |Δp| of the majority class).</p>"
    )
    return heading + note + _table(header, rows, "sequences")


def _imagenet_p(results: dict[str, Any]) -> str:
    """ImageNet-P: each model's mFR and mT5D beside the leaderboard's (published, not measured here), then each
    perturbation's flip probability and top-5 distance by difficulty."""
    facts, models = results["imagenet_p"], results["models"]
    by = escape(facts["normalised_by"] or "no AlexNet figures (run --model alexnet_baseline, or --alexnet FILE)")
    rows = []
    for m in models:
        cells = [escape(m["name"])]
        for key in ("mFR", "mT5D"):
            figure = m["imagenet_p"][key]
            used = len(figure["perturbations"])
            cells.append("–" if figure["value"] is None else f"{figure['value']:.1f}% <span class=ci>({used} of "
                         f"{len(facts['test_perturbations'])})</span>")  # fmt: skip
        rows.append(cells)
    for row in facts["published"]:
        mt5d = "–" if row["mt5d"] is None else f"{row['mt5d']:.1f}%"
        rows.append([f'{escape(row["method"])} <span class="ci">published, {escape(row["reference"] or "baseline")}'
                     "</span>", f"{row['mfr']:.1f}%", mt5d])  # fmt: skip
    parts = [
        "<h2>ImageNet-P</h2>",
        f"<p>Difficulty 1, each test perturbation's figure divided by AlexNet's ({by}), averaged. The leaderboard's "
        "rows are its published values (ResNet-50 backbone), not measured here.</p>",
        _table(["model", "mFR", "mT5D"], rows, "imagenet-p"),
    ]
    header = ["perturbation", "difficulty"]
    header += [f"{title}: {m['name']}" for title in ("flip probability %", "top-5 distance") for m in models]
    figures = [{(r["perturbation"], r["difficulty"]): r for r in m["imagenet_p"]["perturbations"]} for m in models]
    rows = []
    for key in figures[0]:
        cells = [escape(key[0]), str(key[1])]
        for name in ("flip_probability", "top5_distance"):
            cells += [_estimate(by_key[key][name]) if key in by_key else "–" for by_key in figures]
        rows.append(cells)
    parts.append(_table(header, rows, "imagenet-p-perturbations"))
    return "".join(parts)


def _class_table(classes: list[dict[str, Any]]) -> str:
    return _table(
        ["class", "label", "images", "top-1 accuracy", "consistency"],
        [
            [escape(c["name"]), str(c["label"]), str(c["images"]), _estimate(c["top1"]), _estimate(c["consistency"])]
            for c in classes
        ],
    )


def _skipped(dataset: dict[str, Any]) -> str:
    parts = [f"<h2>Skipped inputs</h2><p>{len(dataset['unreadable'])} unreadable images, "]
    parts.append(
        f"{len(dataset['skipped_folders'])} skipped folders, {len(dataset['skipped_files'])} skipped files.</p>"
    )
    if dataset["unreadable"]:
        rows = [
            [f'<span class="text">{escape(u["relpath"])}</span>', escape(u["error"])] for u in dataset["unreadable"]
        ]
        parts.append(_table(["image", "why"], rows, "unreadable"))
    if dataset["skipped_folders"]:
        rows = [[escape(s["name"]), escape(s["reason"])] for s in dataset["skipped_folders"]]
        parts.append(_table(["folder", "why"], rows, "skipped-folders"))
    if dataset["skipped_files"]:
        rows = [
            [f'<span class="text">{escape(s["name"])}</span>', escape(s["reason"])] for s in dataset["skipped_files"]
        ]
        parts.append(_table(["file", "why"], rows, "skipped-files"))
    return "".join(parts)
