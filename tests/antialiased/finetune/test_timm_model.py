"""`--model timm:ARCH` (docs/finetune.md): a timm network with its baseline weights from --weights is antialiased by
`antialias()` and fine-tuned; its steps are logged and its weights written, blur layers included."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from antialiased.finetune.cli import main
from antialiased.weights import load_state_dict, save_checkpoint
from tests.support.finetune import NAME, SMALL, small_data, step_losses

pytestmark = pytest.mark.slow
ARCH = "resnet10t"  # timm's smallest ResNet: a strided stem convolution, a max pool and strided blocks


def test_a_timm_network_is_antialiased_and_fine_tuned(tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = save_checkpoint(timm.create_model(ARCH, pretrained=False), tmp_path / "baseline", f"{ARCH}_random")
    data = small_data(tmp_path / "data")
    args = ["--model", f"timm:{ARCH}", "--weights", str(weights), "--data", str(data), "--name", NAME,
            "--out", str(tmp_path / "out"), "--epochs", "1", *SMALL]  # fmt: skip
    assert main(args) == 0
    assert len(step_losses(tmp_path / "out")) == 2, "one epoch of 20 images in batches of 8 (the last dropped)"
    (written,) = (tmp_path / "out" / "weights").glob(f"{NAME}-*.pth")
    state = load_state_dict(written)
    assert any(key.endswith("filt") for key in state), "blur filters in the weights: the network was antialiased"
    baseline = load_state_dict(weights)
    assert not torch.equal(state["fc.weight"], baseline["fc.weight"]), "trained"
