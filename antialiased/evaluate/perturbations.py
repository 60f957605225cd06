"""ImageNet-P's figures of a run, from its per-sequence table (`antialiased.sequences.imagenet_p` defines them).

For each model, per perturbation and difficulty: the flip probability (in percent), the top-5 and Zipf distances,
means over the videos with their 95% intervals (`statistics`); the difficulty-1 figures of each perturbation as
plain numbers (`figures`: what `--alexnet FILE` reads back); mFR and mT5D over the test perturbations, normalised
by AlexNet's figures: of a model of the run named `alexnet` or `alexnet_baseline`, else of `--alexnet FILE` (an
earlier run's results.json, or {perturbation: {"flip_probability": p, "top5_distance": d}}). Between models, the
paired differences over the videos both scored. The leaderboard's published values come along, marked published.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from antialiased.datasets import DataError
from antialiased.evaluate.statistics import mean_estimate, paired_difference
from antialiased.evaluate.summary import ModelRows
from antialiased.regular_files import UnreadableJson, read_json
from antialiased.sequences.imagenet_p import (
    LEADERBOARD,
    TEST_PERTURBATIONS,
    VALIDATION_PERTURBATIONS,
    normalised_mean,
    perturbation_of,
)

ALEXNET_NAMES = ("alexnet", "alexnet_baseline")
# A model named so (a checkpoint file may carry its hash, `alexnet_baseline-7be5be79.pth`) is the run's AlexNet.
ALEXNET_PATTERN = re.compile(r"(alexnet|alexnet_baseline)(-[0-9a-f]{8,})?")
MAX_ALEXNET_BYTES = 64 * 1024 * 1024  # a run's results.json; a larger file, a FIFO or a device is not read
HEADLINE_DIFFICULTY = 1
# figure -> (per-sequence column, in percent)
COLUMNS = {"flip_probability": ("seq_flip_probability", True), "top5_distance": ("seq_top5", False),
           "zipf_distance": ("seq_zipf", False)}  # fmt: skip
ORDER = {name: k for k, name in enumerate((*TEST_PERTURBATIONS, *VALIDATION_PERTURBATIONS))}
Key = tuple[str, int]  # (perturbation, difficulty)


def per_video(rows: ModelRows) -> dict[Key, dict[int, dict[str, float]]]:
    """(perturbation, difficulty) -> video index -> its figures (flip probability as a fraction)."""
    table = rows.table
    columns = {name: table.column(column).to_pylist() for name, (column, _) in COLUMNS.items()}
    folders, difficulties = table.column("seq_perturbation").to_pylist(), table.column("seq_difficulty").to_pylist()
    grouped: dict[Key, dict[int, dict[str, float]]] = defaultdict(dict)
    for row, (folder, levels) in enumerate(zip(folders, difficulties, strict=True)):
        known = perturbation_of(folder or "")
        for k, difficulty in enumerate(levels or ()):
            if known is not None:
                grouped[(known[0], difficulty)][int(rows.index[row])] = {n: v[row][k] for n, v in columns.items()}
    return dict(sorted(grouped.items(), key=lambda item: (ORDER.get(item[0][0], len(ORDER)), item[0])))


def is_alexnet(name: str) -> bool:
    return ALEXNET_PATTERN.fullmatch(name) is not None


def alexnet_figures(path: Path) -> dict[str, dict[str, float]]:
    """AlexNet's difficulty-1 figures from `--alexnet FILE` (see the module docstring); DataError if unreadable."""
    try:
        document = read_json(path, MAX_ALEXNET_BYTES)
    except UnreadableJson as error:
        raise DataError(f"--alexnet {path} {error}") from None
    if isinstance(document, dict) and "models" in document:
        models = [m for m in document["models"] if is_alexnet(str(m.get("name"))) and m.get("imagenet_p")]
        if not models:
            raise DataError(f"--alexnet {path}: no model named {' or '.join(ALEXNET_NAMES)} with ImageNet-P figures")
        document = models[0]["imagenet_p"]["figures"]
    valid = isinstance(document, dict) and all(
        isinstance(v, dict) and all(isinstance(v.get(f), int | float) for f in ("flip_probability", "top5_distance"))
        for v in document.values()
    )
    if not valid or not document:
        raise DataError(f'--alexnet {path}: expected {{perturbation: {{"flip_probability": p, "top5_distance": d}}}}')
    return document


def summarize_imagenet_p(
    rows: dict[str, ModelRows], alexnet_file: Path | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The run's ImageNet-P facts (normaliser, leaderboard), each model's figures, and the paired comparisons."""
    videos = {name: per_video(model_rows) for name, model_rows in rows.items()}
    headline = {name: _figures(grouped) for name, grouped in videos.items()}
    reference = next((name for name in rows if is_alexnet(name)), None)
    alexnet = headline[reference] if reference else alexnet_figures(alexnet_file) if alexnet_file else None
    models = {}
    for name, grouped in videos.items():
        models[name] = {"perturbations": [_estimates(key, by_video) for key, by_video in grouped.items()],
                        "figures": headline[name]}  # fmt: skip
        for title, figure in (("mFR", "flip_probability"), ("mT5D", "top5_distance")):
            mine = {p: f[figure] for p, f in headline[name].items()}
            value, used = normalised_mean(mine, {p: f[figure] for p, f in (alexnet or {}).items()})
            models[name][title] = {"value": value, "perturbations": used, "difficulty": HEADLINE_DIFFICULTY}
    run = {
        "normalised_by": reference or (str(alexnet_file) if alexnet_file else None),
        "test_perturbations": list(TEST_PERTURBATIONS),
        "published": [asdict(row) for row in LEADERBOARD],
    }
    return run, models, _comparisons(videos)


def _figures(grouped: dict[Key, dict[int, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each perturbation's difficulty-1 flip probability and top-5 distance: means over its videos."""
    return {
        perturbation: {f: float(np.mean([v[f] for v in by_video.values()])) for f in ("flip_probability",
                                                                                        "top5_distance")}
        for (perturbation, difficulty), by_video in grouped.items()
        if difficulty == HEADLINE_DIFFICULTY
    }  # fmt: skip


def _estimates(key: Key, by_video: dict[int, dict[str, float]]) -> dict[str, Any]:
    estimates = {
        name: mean_estimate(np.array([v[name] for v in by_video.values()]), percent=percent).to_json()
        for name, (_, percent) in COLUMNS.items()
    }
    return {"perturbation": key[0], "difficulty": key[1], "videos": len(by_video), **estimates}


def _comparisons(videos: dict[str, dict[Key, dict[int, dict[str, float]]]]) -> list[dict[str, Any]]:
    """For each pair of models, each perturbation and difficulty: the paired differences (first − second)."""
    comparisons = []
    for (name_a, a), (name_b, b) in combinations(videos.items(), 2):
        rows = []
        for key in a.keys() & b.keys():
            common = sorted(a[key].keys() & b[key].keys())
            differences = {}
            for name, (_, percent) in COLUMNS.items():
                values_a = np.array([a[key][i][name] for i in common])
                values_b = np.array([b[key][i][name] for i in common])
                estimate = paired_difference(values_a, values_b, percent=percent)
                differences[name] = {**estimate.to_json(), "significant": estimate.excludes_zero()}
            rows.append({"perturbation": key[0], "difficulty": key[1], "videos": len(common), **differences})
        rows.sort(key=lambda row: (ORDER.get(row["perturbation"], len(ORDER)), row["perturbation"], row["difficulty"]))
        comparisons.append({"a": name_a, "b": name_b, "perturbations": rows})
    return comparisons
