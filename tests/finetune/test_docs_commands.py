"""docs/finetune.md's CPU commands from the page's own text (tests/support/docs_commands.py), end to end: one
process and two gloo processes under torchrun fine-tune resnet18 from a random baseline on a small photo folder
(`baseline.pth`, `path/to/train`, `path/to/val` put in, `.venv/bin/` this interpreter's); the result's registry entry
is then served by name through `python -m scripts.run` (what `make run` runs after its set-up) and its answer equals
the in-process model's."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import torch

from antialiased.finetune.logs import STEPS_FILE, read_records
from antialiased.weights import load_pretrained
from antialiased.weights.registry import REGISTRY_ENV
from tests.support.docs_commands import RUN, DocCommand, commands_matching
from tests.support.finetune import ROOT, baseline_checkpoint, small_data
from tests.support.serving import PROBABILITY_TOLERANCE, encode, photo, reference_probabilities

pytestmark = [pytest.mark.slow, pytest.mark.serving]


def _commands(test_name: str) -> list[DocCommand]:
    (pattern,) = [pattern for pattern, test in RUN.items() if test.endswith(f"::{test_name}")]
    return commands_matching(pattern)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs' fine-tuning commands, run in this folder."""
    folder = tmp_path_factory.mktemp("finetune_docs")
    data = small_data(folder / "train")
    baseline_checkpoint(folder).rename(folder / "baseline.pth")
    bin_dir = str(Path(sys.executable).parent)
    for command in _commands("test_the_finetune_commands"):
        text = command.text.replace(".venv/bin/", f"{bin_dir}/").replace("path/to/train", str(data))
        text = text.replace("path/to/val", str(data))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(["bash", "-c", text], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{text}\n{done.stderr[-3000:]}"
    return folder


def test_the_finetune_commands(workdir: Path) -> None:
    for out in ("build/finetune", "build/finetune-2"):
        losses = [record["loss"] for record in read_records(workdir / out / "my_resnet18_lpf4" / STEPS_FILE)]
        assert len(losses) == 4 and losses[-1] < losses[0], (out, losses)
        assert list((workdir / out / "weights").glob("my_resnet18_lpf4-*.pth")) and (workdir / out / "registry.json")


def test_the_result_served_by_name(workdir: Path) -> None:
    (command,) = _commands("test_the_result_served_by_name")
    registry = re.match(rf"{REGISTRY_ENV}=(\S+)", command.text).group(1).replace("$PWD", str(workdir))
    (pair,) = re.findall(r'--model (\S+)"', command.text)
    name, weights = pair.split("=")
    weights = "my_resnet18_lpf4"  # the docs' resnet50 is the GPU command's; the CPU command trained this one
    env = {**os.environ, "PYTHONPATH": str(ROOT), REGISTRY_ENV: registry}
    options = ["--model", f"{name}={weights}", "--free-ports", "--no-probe", "--store", "store", "--weights-dir", "w"]
    process = subprocess.Popen([sys.executable, "-m", "scripts.run", *options], cwd=workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 240
        while not any("Ctrl-C stops everything" in line for line in output):
            assert process.poll() is None and time.monotonic() < deadline, "".join(output[-50:])
            time.sleep(0.5)
        inference = re.search(r"inference\s+(http://127\.0\.0\.1:\d+)/predictions", "".join(output)).group(1)
        image = encode(photo("rocket"))
        answer = httpx.post(f"{inference}/predictions/{name}", content=image, timeout=60).json()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(90)
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
