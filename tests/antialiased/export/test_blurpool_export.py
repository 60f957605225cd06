"""BlurPool alone through the ONNX export, for every filter size (1-7), pad type, stride (1, 2) and an odd and an
even input size: ONNX Runtime's output equals eager PyTorch's and an independent numpy reference of the blur.

All variants of one input size sit side by side in one exported module (one export per size, not 84), each
answering its own slice of the output, and run at a batch size the export did not trace (the batch is dynamic)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from antialiased.blurpool import BlurPool
from antialiased.export.onnx import export_onnx
from antialiased.export.runtimes import open_session
from antialiased.export.source import ExportSource
from antialiased.label_sets import LabelSet
from antialiased.preprocessing import Preprocessing
from tests.antialiased.export.blur_reference import blur

FILTER_SIZES = range(1, 8)
PAD_TYPES = ("reflect", "replicate", "zero")
STRIDES = (1, 2)
SIZES = {"odd": 11, "even": 12}
VARIANTS = list(itertools.product(FILTER_SIZES, PAD_TYPES, STRIDES))
CHANNELS = 3
RUN_BATCH = 3  # the export traces batch 2
TOLERANCE = 1e-5  # on values of unit scale; float32 rounding of a sum of at most 49 products stays below 1e-6


class BlurBank(nn.Module):
    """Every BlurPool variant on the same input, each output flattened, side by side: (N, sum of their sizes)."""

    def __init__(self) -> None:
        super().__init__()
        self.blurs = nn.ModuleList(BlurPool(CHANNELS, pad_type=p, filt_size=k, stride=s) for k, p, s in VARIANTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([blur(x).flatten(1) for blur in self.blurs], dim=1)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Size name -> (input, ONNX Runtime's output, eager PyTorch's output) of the bank."""
    bank = BlurBank().eval()
    found = {}
    for name, size in SIZES.items():
        x = torch.randn(RUN_BATCH, CHANNELS, size, size, generator=torch.Generator().manual_seed(size))
        with torch.inference_mode():
            eager = bank(x)
        path = tmp_path_factory.mktemp("blur") / f"{name}.onnx"
        labels = LabelSet.of_names(str(i) for i in range(eager.shape[1]))
        export_onnx(ExportSource(f"blur_{name}", bank, labels, "blur", None, Preprocessing(crop_size=size)), path)
        found[name] = (x.numpy(), open_session(Path(path))(x.numpy())[0], eager.numpy())
    return found


def _slice(variant: tuple[int, str, int], size: int, flat: np.ndarray) -> np.ndarray:
    """The output of `variant` within the bank's flat output, as (N, C, H', W')."""
    start = 0
    for k, p, s in VARIANTS:
        side = (size - 1) // s + 1  # padded to size + k - 1, then a k-tap window with stride s
        if (k, p, s) == variant:
            return flat[:, start : start + CHANNELS * side * side].reshape(len(flat), CHANNELS, side, side)
        start += CHANNELS * side * side
    raise AssertionError(f"no variant {variant}")


@pytest.mark.parametrize("size_name", sorted(SIZES))
@pytest.mark.parametrize(("filt_size", "pad_type", "stride"), VARIANTS)
def test_onnx_runtime_computes_the_blur_as_eager_pytorch_and_the_numpy_reference(
    outputs: dict, size_name: str, filt_size: int, pad_type: str, stride: int
) -> None:
    x, onnx_flat, eager_flat = outputs[size_name]
    variant, size = (filt_size, pad_type, stride), SIZES[size_name]
    reference = blur(x, filt_size, pad_type, stride)
    onnx_out, eager_out = _slice(variant, size, onnx_flat), _slice(variant, size, eager_flat)
    assert onnx_out.shape == eager_out.shape == reference.shape
    assert np.abs(eager_out - reference).max() <= TOLERANCE, "eager BlurPool differs from the reference"
    assert np.abs(onnx_out - reference).max() <= TOLERANCE, "ONNX Runtime differs from the reference"
    assert np.abs(onnx_out - eager_out).max() <= TOLERANCE
