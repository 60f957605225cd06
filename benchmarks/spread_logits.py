"""Random-weight networks whose probabilities spread as a trained classifier's do, for parity figures.

No trained weights can be had offline. With torchvision's random initialisation the logits lie within a few
hundredths of each other, every probability is near 1/classes, and a 1e-4 bound on probabilities proves nothing;
`spread_logits_` scales the classifier so that the logits spread over several units (top-1 probabilities of
0.1 to 0.9), where a wrong layer moves the probabilities by far more than the bound.
"""

from __future__ import annotations

import torch
from torch import nn

LOGIT_STD = 4.0


@torch.no_grad()
def spread_logits_(model: nn.Module, inputs: torch.Tensor, logit_std: float = LOGIT_STD) -> nn.Module:
    """Scale `model`'s last linear layer in place so that its logits on `inputs` have standard deviation
    `logit_std`; return the model in eval mode."""
    model.eval()
    classifier = [module for module in model.modules() if isinstance(module, nn.Linear)][-1]
    scale = logit_std / float(model(inputs).std())
    classifier.weight.mul_(scale)
    if classifier.bias is not None:
        classifier.bias.mul_(scale)
    return model
