"""Issue 24's way through, on this CPU: plain class folders red/ green/ blue/ -> `python -m antialiased.finetune
--num-classes 3` (no labels file) of a zoo network (registered as its checkpoint) and of a timm network (exported
to a program at the end of the run) -> both served by name by `python -m scripts.run` (what `make run` runs) ->
predictions named red, green or blue, /v1/stability probes them, /v1/config and /v2 tell their classes ->
`python -m antialiased.evaluate --model NAME --data` the same folders scores them by name, the folders mapped by the
models' own label names (through an endpoint: tests/handlers/test_exported_models.py). One step of training each:
the names are the point, not the accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import timm
import torch

from antialiased.evaluate.store import RESULTS_FILE
from antialiased.weights import save_checkpoint
from antialiased.weights.registry import REGISTRY_ENV
from tests.support.datasets import write_colour_folder
from tests.support.finetune import ROOT, baseline_checkpoint
from tests.support.run_script import run_script

pytestmark = [pytest.mark.serving, pytest.mark.slow]

COLOURS = ("red", "green", "blue")  # channel order: folder c holds images whose dominant channel is c
SORTED = sorted(COLOURS)  # the classes as ImageFolder indexes them
ZOO, TIMM = "colours_resnet18", "colours_timm"
SERVED = {"mine": ZOO, "timm": TIMM}


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour folders and both fine-tuned models, registered in `out/registry.json`."""
    folder = tmp_path_factory.mktemp("own_classes")
    write_colour_folder(folder / "colours", images_per_class=2, wrong=(0, 0, 0), folders=COLOURS)
    zoo_base = baseline_checkpoint(folder, "resnet18")
    torch.manual_seed(0)
    timm_base = save_checkpoint(timm.create_model("resnet10t"), folder, "resnet10t_random")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    recipe = ["--data", "colours", "--num-classes", "3", "--out", "out", "--epochs", "1", "--batch-size", "6",
              "--crop-size", "64", "--workers", "0", "--quiet"]  # fmt: skip
    for model, weights, name in (("torchvision:resnet18", zoo_base, ZOO), ("timm:resnet10t", timm_base, TIMM)):
        command = [sys.executable, "-m", "antialiased.finetune", "--model", model, "--weights", str(weights)]
        done = _run([*command, *recipe, "--name", name], folder, env)
        assert f"registered as {name}" in done.stdout, done.stdout + done.stderr
    return folder


@pytest.fixture(scope="module")
def env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), REGISTRY_ENV: str(workdir / "out" / "registry.json")}


@pytest.fixture(scope="module")
def stack(workdir: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`python -m scripts.run` serving both by name (with the probe service): its inference and probe URLs."""
    models = [option for name, weights in SERVED.items() for option in ("--model", f"{name}={weights}")]
    with run_script([*models, "--free-ports", "--store", "store", "--weights-dir", "w"], workdir, env, 300) as run:
        yield {"inference": run.inference, "probe": run.probe}


def _image(workdir: Path, colour: str) -> bytes:
    return next((workdir / "colours" / colour).iterdir()).read_bytes()


@pytest.mark.parametrize("model", SERVED)
def test_predictions_are_named_by_the_folders(stack: dict[str, str], workdir: Path, model: str) -> None:
    for colour in COLOURS:
        files = {"data": ("image.png", _image(workdir, colour))}
        answer = httpx.post(f"{stack['inference']}/predictions/{model}", files=files, data={"topk": "5"}, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"]["num_classes"] == 3 and body["weights"]["untrained"] is False
        assert sorted(top["label"] for top in body["topk"]) == SORTED, "the 3 classes, topk clamped to them"


@pytest.mark.parametrize("model", SERVED)
def test_the_probe_service_probes_them_with_their_classes(stack: dict[str, str], workdir: Path, model: str) -> None:
    files = {"image": ("image.png", _image(workdir, "green"))}
    params = {"model": model, "protocol": "diagonal", "max_shift": "4"}
    answer = httpx.post(f"{stack['probe']}/v1/stability", params=params, files=files, timeout=120)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["majority_label"] in COLOURS and 0 <= body["score"] <= 1
    assert {top["label"] for shift in body["shifts"] for top in shift["topk"]} <= set(COLOURS)
    config = httpx.get(f"{stack['probe']}/v1/config", timeout=30).json()
    assert config["labels"][model] == SORTED
    metadata = httpx.get(f"{stack['probe']}/v2/models/{model}", timeout=30).json()
    assert metadata["outputs"][0]["shape"] == [-1, 3]


def test_the_evaluation_scores_them_by_name(workdir: Path, env: dict[str, str]) -> None:
    options = ["--data", "colours", "--measure", "accuracy", "--workers", "0", "--quiet", "--overwrite"]
    _run([sys.executable, "-m", "antialiased.evaluate", "--model", ZOO, "--model", TIMM, "--out", "local", *options],
         workdir, env)  # fmt: skip
    results = json.loads((workdir / "local" / RESULTS_FILE).read_text())
    assert results["dataset"]["evaluated"] == 6 and not results["dataset"]["skipped_folders"], results["dataset"]
    assert {model["name"] for model in results["models"]} == {ZOO, TIMM}
