"""Worst-case and sub-pixel figures of the evaluation, against a brute-force loop over the same windows."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
import torch

from antialiased.images import decode_image
from antialiased.transforms import normalize, resize_center_crop
from antialiased.weights import load_weights
from tests.support.eval_models import TinyStridedNet


@torch.inference_mode()
def brute_force(model: torch.nn.Module, path: Path, label: int) -> tuple[bool, bool]:
    """(every shift of the ±8 window correct, some shift changes the top-1), one window at a time."""
    base = resize_center_crop(decode_image(path.read_bytes()), 224 + 16)
    top1 = {}
    for dy in range(-8, 9):
        for dx in range(-8, 9):
            view = base[:, 8 + dy : 8 + dy + 224, 8 + dx : 8 + dx + 224]
            top1[dy, dx] = int(model(normalize(view).unsqueeze(0)).argmax())
    return all(c == label for c in top1.values()), any(c != top1[0, 0] for c in top1.values())


def test_worst_case_and_sub_pixel_figures_with_intervals_and_paired_differences(
    run_cli, photo_folder: Path, model_specs
) -> None:
    run = run_cli(
        "--data", str(photo_folder), "--limit", "6", "--model", model_specs["tiny"], "--model",
        model_specs["circular"], "--measure", "worst-case,fractional",
    )  # fmt: skip
    tiny, circular = run["results"]["models"]
    rows = run["images"].filter(pc.equal(run["images"].column("model"), tiny["name"])).to_pylist()
    model = load_weights(TinyStridedNet(), Path(model_specs["tiny"].split(":")[0])).eval()
    expected = [brute_force(model, photo_folder / row["relpath"], row["label"]) for row in rows]
    assert [(row["wc_correct"], row["wc_flip"]) for row in rows] == expected
    flips = 100 * sum(flip for _, flip in expected) / len(expected)
    assert tiny["figures"]["worst_case_flips"]["value"] == pytest.approx(flips)
    assert tiny["figures"]["worst_case_accuracy"]["ci_high"] > tiny["figures"]["worst_case_accuracy"]["value"]
    assert circular["figures"]["fractional_consistency"]["value"] == 100.0, "circular-invariant, sub-pixel too"
    assert len(tiny["fractional"]["agree"]) == 4 and tiny["fractional"]["shift"] == [0.25, 0.5, 0.75, 1]
    difference = run["results"]["comparisons"][0]["differences"]["worst_case_flips"]
    assert difference["value"] == pytest.approx(flips - circular["figures"]["worst_case_flips"]["value"])
    report = (run["out"] / "report.html").read_text()
    assert "worst-case accuracy" in report and "Sub-pixel shifts" in report
