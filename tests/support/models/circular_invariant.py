"""A tiny classifier that is exactly invariant to circular shifts, for tests of the shift path.

1x1 convolution -> global average pool -> linear layer to the 1000 ImageNet classes. A circular shift
(torch.roll) permutes the pixels; the 1x1 convolution acts on each pixel alone and the mean over all
pixels does not depend on their order, so every circular shift of an input gives the same logits
(up to float rounding of the sum).
"""

from __future__ import annotations

import torch
from torch import nn

from antialiased.labels import NUM_CLASSES

BUILDER = "circular_invariant:CircularInvariant"  # model-config.yaml's handler.model.builder for this file


class CircularInvariant(nn.Module):
    """1x1 conv -> ReLU -> global average pool -> linear; invariant to circular shifts of the input."""

    def __init__(self, width: int = 16, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, kernel_size=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))


def model_spec() -> dict:
    """The `handler.model` section of model-config.yaml for an archive serving this model."""
    return {"builder": BUILDER, "kwargs": {}, "arch": "circular_invariant", "antialiased": False, "filter_size": None}
