"""The evaluation's `--precision float16` (its --help: auto, float32, bfloat16, float16) on CUDA: the same per-image
top-1 as float32 on the CPU, p(true class) within FP16_RELATIVE_TOLERANCE of it, and the run says float16. (On the
CPU float16 is refused: tests/antialiased/evaluate/test_local.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from antialiased.evaluate.cli import main
from tests.gpu.cuda import cuda_device
from tests.support.datasets import write_photo_folder

pytestmark = pytest.mark.gpu

# p(true class) of the tempered network on these photos is 1e-6..1e-2: compared relatively. float16 keeps 11 bits of
# mantissa; a logit off by a few hundredths moves a probability by a few percent of itself.
FP16_RELATIVE_TOLERANCE = 5e-2


def _evaluate(data: Path, model: str, out: Path, *args: str) -> tuple[dict, dict[str, list]]:
    status = main(["--data", str(data), "--model", model, "--limit", "6", "--measure", "accuracy", "--out", str(out),
                   "--quiet", *args])  # fmt: skip
    assert status == 0
    table = pq.read_table(out / "images.parquet").to_pydict()
    return json.loads((out / "results.json").read_text()), table


def test_float16_on_cuda_classifies_as_float32_on_the_cpu(tmp_path: Path, tempered_checkpoint: Path) -> None:
    cuda_device()  # the CPU reference alone proves nothing: skip at once without CUDA
    data, model = write_photo_folder(tmp_path / "photos", images_per_class=2), f"{tempered_checkpoint}:resnet50:4"
    _, reference = _evaluate(data, model, tmp_path / "cpu", "--device", "cpu", "--precision", "float32")
    results, half = _evaluate(data, model, tmp_path / "cuda", "--device", "cuda", "--precision", "float16")
    assert results["precision"] == "float16", results.get("precision")
    assert half["top1"] == reference["top1"]
    assert len(set(reference["top1"])) > 1, "the photos are told apart: the top-1s mean something"
    assert half["p_true"] == pytest.approx(reference["p_true"], rel=FP16_RELATIVE_TOLERANCE)
