"""Preparing a model for serving: eval, batch norm folded into convolutions, channels_last,
optional torch.compile and autocast. On CPU in float32 the prepared model computes what the
eager model computes (up to float rounding)."""

from __future__ import annotations

import bisect
import copy

import torch
from torch import fx, nn
from torch.fx.experimental.optimization import fuse

from antialiased.blurpool import BlurPool, BlurPool1d
from antialiased.weights.program import ExportedClassifier

# Precision name -> the autocast dtype of `prepare_for_inference` (None: float32); on the CPU models always run in
# float32.
PRECISIONS: dict[str, torch.dtype | None] = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


class _Tracer(fx.Tracer):
    """Keeps BlurPool layers whole in the traced graph (their input-size check is Python control flow)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, (BlurPool, BlurPool1d)) or super().is_leaf_module(m, module_qualified_name)


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of the eval-mode `model` with every Conv->BatchNorm pair folded into one convolution."""
    graph = _Tracer().trace(model.eval())
    return fuse(fx.GraphModule(model, graph), inplace=False, no_trace=True)


class MaxPool2x2Stride1(nn.Module):
    """Exact, faster stand-in for MaxPool2d(kernel_size=2, stride=1): two elementwise maxima of shifted views.

    PyTorch's max_pool2d computes indices and runs 10-30x slower on CPU for this stride-1 case;
    the antialiased stem (MaxPool 2x2 stride 1, then BlurPool) spends a fifth of its time there.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = torch.maximum(x[:, :, :-1, :], x[:, :, 1:, :])
        return torch.maximum(rows[:, :, :, :-1], rows[:, :, :, 1:])


def _is_max_pool_2x2_stride_1(m: nn.Module) -> bool:
    return (
        type(m) is nn.MaxPool2d
        and m.kernel_size in (2, (2, 2))
        and m.stride in (1, (1, 1))
        and m.padding in (0, (0, 0))
        and m.dilation in (1, (1, 1))
        and not m.ceil_mode
        and not m.return_indices
    )


def replace_max_pool_2x2(model: nn.Module) -> nn.Module:
    """Swap every MaxPool2d(2, stride=1) of `model` for MaxPool2x2Stride1, in place."""
    for name, child in model.named_children():
        if _is_max_pool_2x2_stride_1(child):
            setattr(model, name, MaxPool2x2Stride1())
        else:
            replace_max_pool_2x2(child)
    return model


class Autocast(nn.Module):
    """Runs the wrapped model under autocast to `dtype` and returns float32 outputs."""

    def __init__(self, model: nn.Module, dtype: torch.dtype, device_type: str) -> None:
        super().__init__()
        self.model = model
        self.dtype = dtype
        self.device_type = device_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=self.dtype):
            return self.model(x).float()


def prepare_for_inference(
    model: nn.Module,
    device: torch.device | str = "cpu",
    *,
    fold_bn: bool = True,
    channels_last: bool = True,
    compile: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> nn.Module:
    """Return a copy of `model` ready for serving on `device`; feed it inputs from `to_model_input`.

    `autocast_dtype` (torch.bfloat16 or torch.float16) applies on CUDA only; on CPU the model
    stays in float32 so its outputs equal the eager model's.
    """
    device = torch.device(device)
    fold_bn = fold_bn and not isinstance(model, ExportedClassifier)  # a program's graph calls aten: no layers
    model = fold_batch_norm(model) if fold_bn else copy.deepcopy(model).eval()
    replace_max_pool_2x2(model)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if autocast_dtype is not None and device.type == "cuda":
        model = Autocast(model, autocast_dtype, device.type)
    model.requires_grad_(False)
    if compile:
        model = torch.compile(model, dynamic=False)
    return model


def to_model_input(batch: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """Lay out a (N, 3, H, W) batch the way `prepare_for_inference` expects it."""
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch


def smallest_input_side(
    model: nn.Module, device: torch.device | str, low: int, high: int, channels_last: bool = True
) -> int:
    """The smallest side in [low, high] of a square image that `model` takes (high + 1 if none): a bisection over
    one-image zero batches, since a network of convolutions and pools takes every side above one it takes (an
    antialiased network refuses a feature map smaller than its blur filter's reflect padding)."""

    @torch.inference_mode()
    def takes(side: int) -> bool:
        try:
            model(to_model_input(torch.zeros(1, 3, side, side, device=device), channels_last))
        except (ValueError, RuntimeError, AssertionError):  # BlurPool's check; a kernel larger than its input; an
            return False  # exported program's guard on the input size
        return True

    return low + bisect.bisect_left(range(low, high + 1), True, key=takes)
