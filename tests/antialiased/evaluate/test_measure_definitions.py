"""The evaluation's `diagonal` and `circular` measures against their definitions, computed here with torchvision and
a loop per image (the paper's `validate_diagonal`; the APS paper's circular consistency), not with the library's views
or scoring: a small shift-sensitive network on real photos, compared image by image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision import transforms

from antialiased.evaluate.plans import EvaluationProtocol, image_plan
from tests.support.eval_models import TinyStridedNet

IMAGES = 12
PASSES = 3
# The paper's windows: 224 a side, the diagonal (d, d) for d = 0..32 of the 256 center crop; circular shifts of the
# 224 center crop in [-32, 32]².
WINDOW, DIAGONAL, MAX_CIRCULAR = 224, range(33), 32


def _paper_view(image: Image.Image, crop: int) -> torch.Tensor:
    """The paper's preprocessing: Resize(256) of the PIL image (bilinear), CenterCrop(crop), ImageNet's mean/std."""
    resized = transforms.Resize(256)(image.convert("RGB"))
    tensor = transforms.ToTensor()(transforms.CenterCrop(crop)(resized))
    return transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(tensor)


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    return TinyStridedNet().eval()  # its weights are seeded: the checkpoint of model_specs["tiny"] holds the same


def test_diagonal_and_circular_per_image_match_their_definitions(
    run_cli: Callable, photo_folder: Path, model_specs: dict[str, str], network: torch.nn.Module
) -> None:
    run = run_cli(
        "--data", str(photo_folder), "--limit", str(IMAGES), "--model", model_specs["tiny"],
        "--measure", "diagonal,circular", "--epochs-shift", str(PASSES),
    )  # fmt: skip
    rows = run["images"].to_pylist()
    assert len(rows) == IMAGES
    flips = 0
    for row in rows:
        with Image.open(photo_folder / row["relpath"]) as image:
            base, center = _paper_view(image, 256), _paper_view(image, WINDOW)
        label = row["label"]
        # validate_diagonal: the 33 windows (d, d) in one batch, softmax, p(true class) and top-1 at each d
        windows = torch.stack([base[:, d : d + WINDOW, d : d + WINDOW] for d in DIAGONAL])
        with torch.no_grad():
            probabilities = network(windows).softmax(dim=1)
        assert row["diag_p_true"] == pytest.approx(probabilities[:, label].tolist(), rel=1e-4, abs=1e-6)
        assert row["diag_top1"] == probabilities.argmax(dim=1).tolist(), row["relpath"]
        assert row["diag_correct1"] == [top1 == label for top1 in probabilities.argmax(dim=1).tolist()]
        # circular consistency: the 224 center crop rolled (with wrap-around) by each offset of a pass's pair; the
        # pass agrees when both rolls get the same top-1. The offsets are the run's random draw (documented as
        # keyed by seed, image and pass); only they are taken from the library, and checked to lie in the range.
        plan = image_plan(EvaluationProtocol(measures=("circular",), epochs_shift=PASSES), row["index"])
        expected = []
        for a, b in plan.circular_pairs:
            offsets = [plan.circular_offsets[i - len(plan.crop_offsets)] for i in (a, b)]
            assert all(-MAX_CIRCULAR <= value <= MAX_CIRCULAR for offset in offsets for value in offset), offsets
            rolled = torch.stack([torch.roll(center, shifts=offset, dims=(1, 2)) for offset in offsets])
            with torch.no_grad():
                first, second = network(rolled).argmax(dim=1).tolist()
            expected.append(first == second)
        assert row["circular_agree"] == expected, row["relpath"]
        flips += expected.count(False)
    assert flips, "the network is shift-sensitive: some pass disagrees, or the comparison could not fail"
    figures = run["results"]["models"][0]["figures"]
    agreed = sum(row["circular_agree"].count(True) for row in rows) / (IMAGES * PASSES)
    assert figures["circular_consistency"]["value"] == pytest.approx(100 * agreed)
