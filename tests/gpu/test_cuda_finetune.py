"""Fine-tuning on CUDA: bfloat16 autocast and channels_last (what `--device cuda` runs), a few steps of an
antialiased resnet18 from a random baseline: every loss finite, the loss falls, the weights are written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from antialiased.finetune.output import WEIGHTS_DIR
from tests.gpu.cuda import cuda_device
from tests.support.finetune import NAME, baseline_checkpoint, finetune_args, run, small_data, step_losses

pytestmark = pytest.mark.gpu


def test_a_few_steps_on_cuda_in_bfloat16_lower_the_loss(tmp_path: Path) -> None:
    cuda_device()  # nothing to compare on the CPU: skip at once without CUDA
    data, weights, out = small_data(tmp_path / "data"), baseline_checkpoint(tmp_path / "baseline"), tmp_path / "out"
    result = run(finetune_args(data, weights, out, "--device", "cuda", "--precision", "bfloat16", "--epochs", "3"))
    assert result.returncode == 0, result.stderr[-3000:]
    losses = step_losses(out)
    assert len(losses) == 6 and all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < losses[0], losses
    assert list((out / WEIGHTS_DIR).glob(f"{NAME}-*.pth")), "the fine-tuned weights are written"
