"""A small CNN of the tests' own (not of the zoo, timm or torchvision): a strided stem, a max pool, a residual
block, global pooling and a classifier of `num_classes`. `antialiased_small_cnn` is it antialiased by
`antialias()`, as fine-tuning antialiases a network outside the zoo. Exported, it is served without this file."""

from __future__ import annotations

import torch
from torch import nn

from antialiased.antialiasing import antialias

FILTER_SIZE = 3
CLASSES = 3


class SmallCnn(nn.Module):
    def __init__(self, num_classes: int = CLASSES, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.pool = nn.MaxPool2d(2, stride=2)
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stem(x))
        return self.head((x + self.block(x)).mean(dim=(2, 3)))


def antialiased_small_cnn(num_classes: int = CLASSES) -> nn.Module:
    """SmallCnn antialiased (filter size FILTER_SIZE), with random weights and batch norm statistics."""
    network = antialias(SmallCnn(num_classes), FILTER_SIZE, pool_only=False, input_shape=(1, 3, 64, 64)).model
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):  # statistics other than the defaults: eval mode must use them
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return network
