"""What the `gpu` tests share: the CUDA gate, the tempered test network and the bfloat16 comparison.

No trained weights can be had offline, so the network is the served antialiased ResNet50 with random
weights (seeded, as in the serving tests) whose classifier layer is divided by TEMPER. Plain random
weights put most of the probability on one class through logits some 15 apart, where bfloat16's
rounding of about 0.5% of the logits moves probabilities by several hundredths; tempered, the logits
spread a few units as a trained classifier's do, and the 2e-2 probability bound keeps its meaning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from antialiased.weights import save_checkpoint
from tests.support.served_models import LPF_MODEL, NETWORK_BUILDERS

NO_CUDA = "no CUDA device: this test needs one (make gpu-check runs it on a GPU machine)"
TEMPER = 5.0
# bfloat16 autocast on CUDA against float32 on the CPU: the same top-1, probabilities within this.
BF16_PROBABILITY_TOLERANCE = 2e-2


def cuda_device() -> torch.device:
    """The first CUDA device; skips the calling test where there is none."""
    if not torch.cuda.is_available():
        pytest.skip(NO_CUDA)
    return torch.device("cuda", 0)


def save_tempered_network(directory: Path) -> Path:
    """The antialiased ResNet50, random weights with the classifier divided by TEMPER, saved in the official format."""
    torch.manual_seed(0)
    network = NETWORK_BUILDERS[LPF_MODEL]()
    with torch.no_grad():
        network.fc.weight /= TEMPER
        network.fc.bias /= TEMPER
    return save_checkpoint(network, directory, f"{LPF_MODEL}_tempered")


def assert_same_prediction(topk: list[dict], expected: torch.Tensor, what: str) -> float:
    """`topk` (an answer's [{index, probability}]) has `expected`'s top-1 and its probabilities within
    BF16_PROBABILITY_TOLERANCE of `expected`; return the largest probability difference."""
    assert topk[0]["index"] == int(expected.argmax()), f"{what}: top-1 {topk[0]['index']} != {int(expected.argmax())}"
    difference = max(abs(entry["probability"] - float(expected[entry["index"]])) for entry in topk)
    assert difference <= BF16_PROBABILITY_TOLERANCE, f"{what}: probabilities differ by {difference:.4f}"
    return difference
