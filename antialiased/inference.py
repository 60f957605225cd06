"""Preparing a model for serving: eval, batch norm folded into convolutions, channels_last,
optional torch.compile and autocast. On CPU in float32 the prepared model computes what the
eager model computes (up to float rounding)."""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.fx.experimental.optimization import fuse

from antialiased.blurpool import BlurPool, BlurPool1d


class _Tracer(fx.Tracer):
    """Keeps BlurPool layers whole in the traced graph (their input-size check is Python control flow)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, (BlurPool, BlurPool1d)) or super().is_leaf_module(m, module_qualified_name)


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of the eval-mode `model` with every Conv->BatchNorm pair folded into one convolution."""
    graph = _Tracer().trace(model.eval())
    return fuse(fx.GraphModule(model, graph), inplace=False, no_trace=True)


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
    """Return `model` ready for serving on `device`; feed it inputs from `to_model_input`.

    `autocast_dtype` (torch.bfloat16 or torch.float16) applies on CUDA only; on CPU the model
    stays in float32 so its outputs equal the eager model's.
    """
    device = torch.device(device)
    model = model.eval()
    if fold_bn:
        model = fold_batch_norm(model)
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
