"""A stopped run resumes where it stopped and its next steps equal an uninterrupted run's: stopped by --max-steps
in the middle of an epoch (with --save-every), and by SIGTERM (a preempted node) in a real process."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from antialiased.finetune.cli import main
from antialiased.finetune.state import STATE_FILE
from antialiased.weights import load_state_dict
from tests.support.finetune import (
    NAME,
    baseline_checkpoint,
    command,
    environment,
    finetune_args,
    small_data,
    step_losses,
)

pytestmark = pytest.mark.slow
EPOCHS = ["--epochs", "2"]  # 4 steps


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inputs")
    return small_data(root / "data"), baseline_checkpoint(root / "baseline")


@pytest.fixture(scope="module")
def uninterrupted(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main(finetune_args(*inputs, out, *EPOCHS)) == 0
    return out


def _same_result(out: Path, reference: Path) -> None:
    torch.testing.assert_close(torch.tensor(step_losses(out)), torch.tensor(step_losses(reference)), rtol=0, atol=0)
    (a,), (b,) = (list((folder / "weights").glob("*.pth")) for folder in (out, reference))
    torch.testing.assert_close(load_state_dict(a), load_state_dict(b), rtol=0, atol=0)


def test_resume_in_the_middle_of_an_epoch_equals_an_uninterrupted_run(inputs, uninterrupted, tmp_path) -> None:
    args = finetune_args(*inputs, tmp_path, *EPOCHS, "--save-every", "1")
    assert main([*args, "--max-steps", "3"]) == 0  # stops after the first step of the second epoch
    assert len(step_losses(tmp_path)) == 3 and not (tmp_path / "weights").exists()
    assert main(args) == 0
    _same_result(tmp_path, uninterrupted)


def test_sigterm_saves_and_the_same_command_resumes(inputs, uninterrupted, tmp_path) -> None:
    args = finetune_args(*inputs, tmp_path, *EPOCHS)
    process = subprocess.Popen(command(args), env=environment(), stderr=subprocess.PIPE, text=True)
    steps = tmp_path / NAME / "steps.jsonl"
    deadline = time.monotonic() + 300
    while not (steps.is_file() and steps.read_text()):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "run the same command to resume" in stderr
    assert (tmp_path / NAME / STATE_FILE).is_file() and not (tmp_path / "weights").exists()
    assert main(args) == 0
    _same_result(tmp_path, uninterrupted)
