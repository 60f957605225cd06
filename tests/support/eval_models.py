"""Small CPU-cheap networks whose answers the evaluation tests can predict (builders for --model PATH:MODULE:CALLABLE).

- `ColourClassifier`: a fixed function of the image content: the class of the image's dominant colour
  channel (red, green or blue, measured on the un-normalised pixels), so its accuracy on the colour data
  set is known by construction.
- `TinyStridedNet`: a random (seeded) strided CNN, sensitive to shifts, for tests that compare
  per-image answers across engines and against the paper's loop.
- `GatedTinyStridedNet`: the same network (and state_dict), held at the gate of tests/support/gate.py when armed,
  for tests that act on a run in progress.
"""

from __future__ import annotations

import torch
from torch import nn

from antialiased.labels import NUM_CLASSES, SYNSET_INDEX
from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from tests.support.gate import pass_gate

torch.fx.wrap("pass_gate")  # one node of the traced graph: batch-norm folding keeps the gate

# The class that each dominant channel (red, green, blue) stands for.
COLOUR_SYNSETS = ("n03796401", "n04152593", "n07920052")  # moving van, screen, espresso: any three will do
COLOUR_CLASSES = tuple(SYNSET_INDEX[s] for s in COLOUR_SYNSETS)


class ColourClassifier(nn.Module):
    """Logit of COLOUR_CLASSES[c] = 10 x the mean of channel c (in [0, 1] pixel units); every other class -1."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, NUM_CLASSES)
        std, mean = torch.tensor(IMAGENET_STD), torch.tensor(IMAGENET_MEAN)
        weight = torch.zeros(NUM_CLASSES, 3)
        bias = torch.full((NUM_CLASSES,), -1.0)
        for channel, cls in enumerate(COLOUR_CLASSES):
            weight[cls, channel] = 10 * std[channel]  # undo the normalisation: raw = x * std + mean
            bias[cls] = 10 * mean[channel]
        with torch.no_grad():
            self.fc.weight.copy_(weight)
            self.fc.bias.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


class TinyStridedNet(nn.Module):
    """Two stride-4 convolutions, global pooling and a linear layer; seeded random weights; shift-sensitive."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(7)
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=5, stride=4),
            nn.ReLU(),
            nn.Conv2d(8, 16, kernel_size=3, stride=4),
            nn.ReLU(),
        )
        self.fc = nn.Linear(16, NUM_CLASSES)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).amax(dim=(2, 3)))


class GatedTinyStridedNet(TinyStridedNet):
    """TinyStridedNet whose forward passes go through the gate of tests/support/gate.py (one per batch of views)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(pass_gate(x))
