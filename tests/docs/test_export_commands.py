"""docs/export.md's export command from the page's own text (tests/support/docs_commands.py), with its files put in:
`mine.pth` (a fine-tuned antialiased timm network of three classes, random weights here) and `classes.json`. The
page's serve command runs in tests/handlers and tests/scripts (EQUIVALENT in tests/support/docs_commands.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from antialiased.antialiasing import antialias
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
