"""A stopped run resumes where it stopped and its next steps equal an uninterrupted run's: stopped by --max-steps
in the middle of an epoch (with --save-every), and by SIGTERM (a preempted node) or Ctrl-C in a real process, held at
a gate (tests/support/gate.py) in its second step until the signal is sent, so that it cannot end first."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from antialiased.finetune.cli import main
from antialiased.finetune.state import STATE_FILE
from antialiased.weights import load_state_dict
from tests.support.finetune import (
    NAME,
    command,
    environment,
    finetune_args,
    step_losses,
)
from tests.support.gate import Gate

pytestmark = pytest.mark.slow
EPOCHS = ["--epochs", "2"]  # 4 steps


@pytest.fixture(scope="module")
def uninterrupted(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main(finetune_args(*inputs, out, *EPOCHS)) == 0
    return out


@pytest.fixture(scope="module")
def uninterrupted_gated(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run of the gated network (its gate not armed)."""
    out = tmp_path_factory.mktemp("uninterrupted_gated")
    assert main(finetune_args(*inputs, out, *EPOCHS, gated=True)) == 0
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


@pytest.mark.parametrize(
    ("stop", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigterm_from_a_preempting_scheduler", "ctrl_c_in_a_shell"],
)
def test_a_signal_saves_at_the_end_of_the_step_and_the_same_command_resumes(
    inputs, uninterrupted_gated, tmp_path, stop, to_group
) -> None:
    args = finetune_args(*inputs, tmp_path / "out", *EPOCHS, gated=True)
    gate = Gate(tmp_path / "gate", after=1)
    process = subprocess.Popen(command(args), env={**environment(), **gate.env()}, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        gate.wait_until_held(process)  # in the second of 4 steps
        if to_group:  # as Ctrl-C in a shell
            os.killpg(process.pid, stop)
        else:
            process.send_signal(stop)
    finally:
        gate.open()  # the signal is handled before the held step ends: Python runs handlers between bytecodes
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + stop, stderr
    assert stderr.splitlines()[-1] == "stopped at step 2: run the same command to resume", stderr
    out = tmp_path / "out"
    assert len(step_losses(out)) == 2, "the step in progress ends, and the run stops"
    assert (out / NAME / STATE_FILE).is_file() and not (out / "weights").exists()
    assert main(args) == 0
    _same_result(out, uninterrupted_gated)
