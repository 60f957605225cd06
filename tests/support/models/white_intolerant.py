"""A tiny classifier whose forward pass fails on an all-white view, for tests of a batch in which one request's
forward pass raises: average colour -> linear layer to the 1000 ImageNet classes, and a RuntimeError when any view
of the batch is white (every normalised value above WHITE_THRESHOLD; white is at least 2.25 in each channel).
Its forward pass branches on the data, so fx cannot trace it: serve it with fold_batch_norm off (`OVERRIDES`)."""

from __future__ import annotations

import torch
from torch import nn

from antialiased.labels import NUM_CLASSES

BUILDER = "white_intolerant:WhiteIntolerant"  # model-config.yaml's handler.model.builder for this file
WHITE_THRESHOLD = 2.0
OVERRIDES = {"handler": {"fold_batch_norm": False}}  # model-config.yaml overrides this model needs


class WhiteIntolerant(nn.Module):
    """Mean colour -> linear; raises RuntimeError on a batch that holds an all-white view."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x.flatten(1).amin(dim=1) > WHITE_THRESHOLD).any()):
            raise RuntimeError("an all-white view")
        return self.fc(x.mean(dim=(2, 3)))


def model_spec() -> dict:
    """The `handler.model` section of model-config.yaml for an archive serving this model."""
    return {"builder": BUILDER, "kwargs": {}, "arch": "white_intolerant", "antialiased": False, "filter_size": None}
