"""What the export tests share: networks whose probabilities spread as a trained classifier's do, and the photos.

No trained weights can be had offline. With torchvision's random initialisation the logits lie within a few
hundredths of each other, every probability is near 1/1000, and a 1e-4 bound on probabilities would prove nothing;
`spread_logits_` scales the classifier so that the logits spread over several units (top-1 probabilities of
0.1 to 0.9), where a wrong layer moves the probabilities by far more than the bound.
"""

from __future__ import annotations

import torch
from torch import nn

from antialiased.images import decode_image
from antialiased.transforms import preprocess
from tests.support.service import SAMPLES

LOGIT_STD = 4.0
PHOTOS = tuple(sorted(SAMPLES.glob("*.jpg")))


def photo_batch(size: int = 224) -> torch.Tensor:
    """The sample photos, preprocessed as the paper's evaluation does: (3, 3, size, size)."""
    return torch.stack([preprocess(decode_image(path.read_bytes()), size) for path in PHOTOS])


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


def seeded(build, seed: int = 0) -> nn.Module:
    """`build()` under a fixed seed: the same random weights in every run."""
    torch.manual_seed(seed)
    return build()
