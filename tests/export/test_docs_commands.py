"""The export commands of docs/export.md, run from the docs' text: the weights file they name is an antialiased
resnet18 checkpoint with random weights, and their output folders are temporary."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import torch

from antialiased.export.cli import main as export_main
from antialiased.export.onnx import read_facts
from antialiased.label_sets import IMAGENET
from antialiased.models import create_model
from antialiased.weights import save_checkpoint
from tests.support.docs_commands import commands_matching

pytestmark = pytest.mark.slow

COMMAND = r"-m antialiased\.export --model resnet18 --filter-size 4 --weights my_resnet18_lpf4\.pth --format"


def test_the_export_commands(tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = save_checkpoint(create_model("resnet18", 4), tmp_path, "my_resnet18_lpf4")
    commands = [command.text for command in commands_matching(COMMAND)]
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
