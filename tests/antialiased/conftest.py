"""Data sets, checkpoints and an evaluation runner shared by the tests of the evaluation and of the data sets (all
generated, nothing downloaded); translate sequences made by `python -m antialiased.sequences make`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from antialiased.evaluate.cli import main
from antialiased.sequences.__main__ import main as sequences_main
from antialiased.weights import save_checkpoint
from tests.support.datasets import write_colour_folder, write_photo_folder
from tests.support.eval_models import ColourClassifier, TinyStridedNet
from tests.support.models.circular_invariant import CircularInvariant
from tests.support.videos import MAKE_FAST, MAKE_SHORT

BUILDERS = {
    "colour": "tests.support.eval_models:ColourClassifier",
    "tiny": "tests.support.eval_models:TinyStridedNet",
    "gated": "tests.support.eval_models:GatedTinyStridedNet",  # tiny's weights; held at tests/support/gate.py's gate
    "circular": "tests.support.models.circular_invariant:CircularInvariant",
}


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 photo crops and patterns, 64-96 px, PNG and JPEG, under 5 ImageNet synset folders."""
    return write_photo_folder(tmp_path_factory.mktemp("data") / "photos")


@pytest.fixture(scope="session")
def colour_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_colour_folder(tmp_path_factory.mktemp("data") / "colours")


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(image folder, its translate sequences of 9 frames): 2 classes of 2 photos each. Read only."""
    root = tmp_path_factory.mktemp("make")
    photos = write_photo_folder(root / "photos", images_per_class=2)
    for extra in sorted(photos.iterdir())[2:]:
        shutil.rmtree(extra)
    out = root / "imagenet-p"
    assert sequences_main(["make", "--data", str(photos), "--out", str(out), *MAKE_FAST, *MAKE_SHORT]) == 0
    return photos, out


@pytest.fixture(scope="session")
def model_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Name -> the --model value (PATH:MODULE:CALLABLE) of a checkpoint of each test network."""
    directory = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    networks = {"colour": ColourClassifier(), "tiny": TinyStridedNet(), "circular": CircularInvariant()}
    checkpoints = {name: save_checkpoint(net, directory, name) for name, net in networks.items()}
    checkpoints["gated"] = checkpoints["tiny"]
    return {name: f"{checkpoint}:{BUILDERS[name]}" for name, checkpoint in checkpoints.items()}


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., dict]:
    """Run `python -m antialiased.evaluate` in-process with `args` (+ --quiet, --out); return its outputs."""

    def run(*args: str, out: Path | None = None, expect_status: int = 0) -> dict:
        out = out or tmp_path / "run"
        status = main([*args, "--out", str(out), "--quiet"])
        assert status == expect_status
        if status:
            return {}
        return {
            "out": out,
            "results": json.loads((out / "results.json").read_text()),
            "images": pq.read_table(out / "images.parquet"),
        }

    return run
