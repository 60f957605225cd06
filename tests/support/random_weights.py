"""Random weights of a trained network's scale, shared by the tests that compare models tensor by tensor."""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def randomise_(model: nn.Module, gen: torch.Generator) -> nn.Module:
    """Give every tensor of `model` a random, distinct value, in place, and return the model.

    Convolution and linear weights are He-scaled, biases and batch-norm affine parameters near a trained
    model's; then (in a second pass, so the parameters do not depend on it) batch-norm statistics and counters.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            module.weight.normal_(0, math.sqrt(2 / module.weight[0].numel()), generator=gen)
            if module.bias is not None:
                module.bias.normal_(0, 0.1, generator=gen)
        elif isinstance(module, nn.BatchNorm2d):
            module.weight.uniform_(0.5, 1.5, generator=gen)
            module.bias.normal_(0, 0.1, generator=gen)
    for module in norms:
        module.running_mean.normal_(0, 0.1, generator=gen)
        module.running_var.uniform_(0.5, 1.5, generator=gen)
        module.num_batches_tracked.fill_(int(torch.randint(1, 10**6, (), generator=gen)))
    return model
