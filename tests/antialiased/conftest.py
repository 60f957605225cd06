"""Data sets, checkpoints and an evaluation runner shared by the tests of the evaluation and of the data sets (all
generated, nothing downloaded)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from antialiased.evaluate.cli import main
from antialiased.weights import save_checkpoint
from tests.support.datasets import write_colour_folder, write_photo_folder
from tests.support.eval_models import ColourClassifier, TinyStridedNet
from tests.support.models.circular_invariant import CircularInvariant

BUILDERS = {
    "colour": "tests.support.eval_models:ColourClassifier",
    "tiny": "tests.support.eval_models:TinyStridedNet",
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
def model_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Name -> the --model value (PATH:MODULE:CALLABLE) of a checkpoint of each test network."""
    directory = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    networks = {"colour": ColourClassifier(), "tiny": TinyStridedNet(), "circular": CircularInvariant()}
    return {name: f"{save_checkpoint(net, directory, name)}:{BUILDERS[name]}" for name, net in networks.items()}


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
