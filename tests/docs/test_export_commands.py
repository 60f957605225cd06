"""docs/export.md's export commands from the page's own text (tests/support/docs_commands.py), with their files put
in: `mine.pth` (a fine-tuned antialiased timm network of three classes, random weights here) and `classes.json`; for
the onnx and triton formats `my_resnet18_lpf4.pth` (an antialiased resnet18, random weights), their output folders
temporary. The page's serve command runs in tests/handlers and tests/scripts (EQUIVALENT in
tests/support/docs_commands.py)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from antialiased.antialiasing import antialias
from antialiased.export.cli import main as export_main
from antialiased.export.onnx import read_facts
from antialiased.label_sets import IMAGENET
from antialiased.models import create_model
from antialiased.weights import load_pretrained, load_weights, save_checkpoint
from antialiased.weights.registry import REGISTRY_ENV
from tests.support.docs_commands import RUN, commands_matching

ROOT = Path(__file__).resolve().parents[2]


def _network() -> torch.nn.Module:
    return antialias(timm.create_model("resnet10t", num_classes=3), 4).model


def test_the_export_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (pattern,) = [pattern for pattern, test in RUN.items() if test.endswith("::test_the_export_command")]
    (command,) = commands_matching(pattern)
    torch.manual_seed(0)
    save_checkpoint(_network(), tmp_path, "mine").rename(tmp_path / "mine.pth")
    (tmp_path / "classes.json").write_text(json.dumps(["blue", "green", "red"]))
    text = command.text.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-c", text], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{text}\n{done.stderr[-3000:]}"
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "build" / "export" / "registry.json"))
    program = load_pretrained("mine")
    network = load_weights(_network(), tmp_path / "mine.pth").eval()
    batch = torch.randn(2, 3, 160, 160)
    with torch.inference_mode():
        assert (program(batch).softmax(dim=1) - network(batch).softmax(dim=1)).abs().max().item() <= 1e-5


ONNX_COMMANDS = r"-m antialiased\.export --model resnet18 --filter-size 4 --weights my_resnet18_lpf4\.pth --format"


@pytest.mark.slow
def test_the_onnx_and_triton_export_commands(tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = save_checkpoint(create_model("resnet18", 4), tmp_path, "my_resnet18_lpf4")
    commands = [command.text for command in commands_matching(ONNX_COMMANDS)]
    assert [shlex.split(c)[shlex.split(c).index("--format") + 1] for c in commands] == ["onnx", "triton"]
    for command in commands:
        args = shlex.split(command.replace("my_resnet18_lpf4.pth", str(weights)).replace("build/", f"{tmp_path}/"))
        assert args[:3] == [".venv/bin/python", "-m", "antialiased.export"]
        assert export_main(args[3:]) == 0, command
    facts = read_facts(tmp_path / "export" / "my_resnet18_lpf4.onnx")
    assert (facts.name, facts.label_set) == ("my_resnet18_lpf4", IMAGENET)
    model = tmp_path / "triton" / "my_resnet18_lpf4"
    assert sorted(str(p.relative_to(model)) for p in model.rglob("*") if p.is_file()) == [
        "1/model.onnx", "config.pbtxt", "labels.txt"
    ]  # fmt: skip
