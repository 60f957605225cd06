"""docs/finetune.md's CPU commands from the page's own text (tests/support/docs_commands.py), end to end: one
process and two gloo processes under torchrun fine-tune resnet18 from a random baseline on a small folder of three
colour classes (`baseline.pth`, `path/to/train`, `path/to/val` put in, `.venv/bin/` this interpreter's). Each run's
loss falls and its top-1 on the training images, measured by the evaluation (the run's own validation, and
`python -m antialiased.evaluate` against the baseline), rises above the network it started from; the one-process
result's registry entry is then served by name through `python -m scripts.run` (what `make run` runs after its
set-up) and its answer equals the in-process model's.

What 4 steps from random weights teach, measured in eval mode: the three trained classes above ImageNet's other 997
(top-1 from 0 to a third), not yet the colours (after 4 steps batch norm's running statistics still lag the batch
statistics the steps trained with; in training mode the colours are already told apart). The tests assert what
holds every time: a rise to at least a third."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import torch

from antialiased.datasets import discover
from antialiased.evaluate import validate_network
from antialiased.evaluate.plans import EvaluationProtocol
from antialiased.evaluate.store import RESULTS_FILE
from antialiased.finetune.logs import EPOCHS_FILE, STEPS_FILE, read_records
from antialiased.finetune.network import build_model
from antialiased.weights import load_pretrained
from antialiased.weights.registry import REGISTRY_ENV
from tests.support.datasets import write_colour_folder
from tests.support.docs_commands import RUN, DocCommand, commands_matching
from tests.support.finetune import NAME, ROOT, baseline_checkpoint
from tests.support.run_script import run_script
from tests.support.serving import PROBABILITY_TOLERANCE, encode, photo, reference_probabilities

pytestmark = [pytest.mark.slow, pytest.mark.serving]
RUNS = ("build/finetune", "build/finetune-2")  # the docs' one-process and two-process commands' --out
THIRD = 100 / 3 - 1e-6  # top-1 (%) of a model that tells the 3 trained classes from ImageNet's others


def _commands(test_name: str) -> list[DocCommand]:
    (pattern,) = [pattern for pattern, test in RUN.items() if test.endswith(f"::{test_name}")]
    return commands_matching(pattern)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs' fine-tuning commands, run in this folder."""
    folder = tmp_path_factory.mktemp("finetune_docs")
    # 3 classes x 6 images, batches of 8: 2 steps an epoch, 4 in the docs' 2 epochs.
    data = write_colour_folder(folder / "train", images_per_class=6, wrong=(0, 0, 0))
    baseline_checkpoint(folder).rename(folder / "baseline.pth")
    bin_dir = str(Path(sys.executable).parent)
    for command in _commands("test_the_finetune_commands"):
        text = command.text.replace(".venv/bin/", f"{bin_dir}/").replace("path/to/train", str(data))
        text = text.replace("path/to/val", str(data))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(["bash", "-c", text], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{text}\n{done.stderr[-3000:]}"
    return folder


@pytest.fixture(scope="module")
def top1_before(workdir: Path) -> float:
    """The top-1 (%) on the training images of the network the runs start from (the baseline antialiased), by the
    evaluation's library (top-1 does not depend on the shift passes: one is enough)."""
    start = build_model("resnet18", str(workdir / "baseline.pth"), 4, None, 64).network
    protocol = EvaluationProtocol(mode="paper", epochs_shift=1)
    figures = validate_network(start, discover(workdir / "train"), protocol=protocol, device=torch.device("cpu"))
    return figures["top1"]["value"]


def test_the_finetune_commands(workdir: Path, top1_before: float) -> None:
    for out in RUNS:
        losses = [record["loss"] for record in read_records(workdir / out / NAME / STEPS_FILE)]
        assert len(losses) == 4 and losses[-1] < losses[0], (out, losses)
        assert list((workdir / out / "weights").glob(f"{NAME}-*.pth")) and (workdir / out / "registry.json")
    # The one-process command validates on the training images (--val path/to/val) after each epoch.
    validated = [record["val"]["top1"]["value"] for record in read_records(workdir / RUNS[0] / NAME / EPOCHS_FILE)]
    assert len(validated) == 2 and validated[-1] > top1_before and validated[-1] >= THIRD, (top1_before, validated)


def test_the_result_evaluated_against_its_baseline(workdir: Path, top1_before: float) -> None:
    """`python -m antialiased.evaluate` on the training folder: the two-process result against its baseline."""
    (weights,) = (workdir / RUNS[1] / "weights").glob(f"{NAME}-*.pth")
    models = [f"{weights}:resnet18:4", f"{workdir / 'baseline.pth'}:resnet18:baseline"]
    options = ["--data", "train", "--out", "evaluation", "--epochs-shift", "1", "--workers", "0", "--quiet"]
    command = [sys.executable, "-m", "antialiased.evaluate", *options, *(f"--model={m}" for m in models)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{shlex.join(command)}\n{done.stderr[-3000:]}"
    results = json.loads((workdir / "evaluation" / RESULTS_FILE).read_text())
    top1 = {model["name"]: model["figures"]["top1"]["value"] for model in results["models"]}
    assert set(top1) == {weights.stem, "baseline"} and results["dataset"]["evaluated"] == 18, top1
    assert top1[weights.stem] > top1_before and top1[weights.stem] >= THIRD, (top1_before, top1)
    assert top1[weights.stem] > top1["baseline"], top1
    assert [(c["a"], c["b"]) for c in results["comparisons"]] in (
        [(weights.stem, "baseline")],
        [("baseline", weights.stem)],
    )


def test_the_result_served_by_name(workdir: Path) -> None:
    (command,) = _commands("test_the_result_served_by_name")
    registry = re.match(rf"{REGISTRY_ENV}=(\S+)", command.text).group(1).replace("$PWD", str(workdir))
    (pair,) = re.findall(r'--model (\S+)"', command.text)
    name, weights = pair.split("=")
    weights = NAME  # the docs' resnet50 is the GPU command's; the CPU command trained this one
    env = {**os.environ, "PYTHONPATH": str(ROOT), REGISTRY_ENV: registry}
    options = ["--model", f"{name}={weights}", "--free-ports", "--no-probe", "--store", "store", "--weights-dir", "w"]
    image = encode(photo("rocket"))
    with run_script(options, workdir, env) as run:
        answer = httpx.post(f"{run.inference}/predictions/{name}", content=image, timeout=60).json()
    assert answer["weights"]["untrained"] is False, answer
    os.environ[REGISTRY_ENV] = registry
    try:
        model = load_pretrained(weights, cache_dir=workdir / "w", progress=False).eval()
    finally:
        del os.environ[REGISTRY_ENV]
    expected = reference_probabilities(model, image)[0]
    for prediction in answer["topk"]:
        assert abs(prediction["probability"] - expected[prediction["index"]].item()) < PROBABILITY_TOLERANCE
    assert answer["topk"][0]["index"] == int(torch.argmax(expected)), shlex.join(options)
