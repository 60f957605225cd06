"""Two gloo processes under torchrun compute what one process computes with the same global batch: the same images
per step (a rank-independent order, per-image seeded augmentation), the gradients averaged by DDP. Batch norm runs
frozen (its running statistics) so that its normalisation does not depend on how the batch is split."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from antialiased.weights import load_state_dict
from tests.support.finetune import baseline_checkpoint, finetune_args, run, small_data, step_losses

pytestmark = pytest.mark.slow


def test_two_processes_equal_one(tmp_path: Path) -> None:
    data, weights = small_data(tmp_path / "data"), baseline_checkpoint(tmp_path / "baseline")
    runs = {}
    for processes in (1, 2):
        out = tmp_path / f"out{processes}"
        done = run(finetune_args(data, weights, out, "--epochs", "2", "--batch-norm", "frozen"), processes)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[processes] = out
    one, two = step_losses(runs[1]), step_losses(runs[2])
    assert len(one) == len(two) == 4
    torch.testing.assert_close(torch.tensor(two), torch.tensor(one), rtol=1e-4, atol=1e-5)
    (a,), (b,) = (list((out / "weights").glob("*.pth")) for out in runs.values())
    torch.testing.assert_close(load_state_dict(b), load_state_dict(a), rtol=1e-4, atol=1e-5)
