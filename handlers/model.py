"""Build, load and prepare the served network on the worker's device."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import torch
from torch import nn

from antialiased.export.source import ExportSource
from antialiased.export.writers import proven_module
from antialiased.inference import prepare_for_inference
from antialiased.label_sets import IMAGENET, LabelSet
from antialiased.weights import WeightsError, sha256_file
from antialiased.weights.load import load_weights
from antialiased.weights.program import program_module
from handlers.settings import HandlerSettings, ModelSpec

log = logging.getLogger(__name__)


def select_device(setting: str, gpu_id: int | None) -> torch.device:
    """The worker's device: the GPU TorchServe assigned (`gpu_id`) unless `setting` is 'cpu'."""
    if setting != "cpu" and gpu_id is not None and torch.cuda.is_available():
        return torch.device("cuda", int(gpu_id))
    if setting == "cuda":
        raise RuntimeError("handler.device is 'cuda' but TorchServe assigned no GPU to this worker")
    return torch.device("cpu")


def build_network(spec: ModelSpec) -> nn.Module:
    """Call the builder named by `spec.builder` ('module:callable') with `spec.kwargs`."""
    module_name, _, attribute = spec.builder.partition(":")
    builder = getattr(importlib.import_module(module_name), attribute)
    return builder(**dict(spec.kwargs))


def load_prepared_model(
    settings: HandlerSettings, weights_path: Path, device: torch.device, labels: LabelSet = IMAGENET
) -> nn.Module:
    """The network with the archive's weights (hash checked against model-config.yaml), or its exported program
    (checked before it is read), ready for serving: prepared for PyTorch on `device`, or with `settings.runtime`
    another runtime's module (exported, proven equal, on the CPU) that answers the classes of `labels`."""
    digest = sha256_file(weights_path)
    if digest != settings.weights.sha256:
        raise WeightsError(
            f"{weights_path.name} has sha256 {digest}, model-config.yaml expects {settings.weights.sha256}"
        )
    spec = settings.model
    if spec.format == "pt2":
        model, _ = program_module(weights_path)
    else:
        model = load_weights(build_network(spec), weights_path, arch=spec.arch)
    if settings.weights.untrained:
        log.warning("SERVING UNTRAINED (randomly initialised) WEIGHTS: predictions are meaningless")
    if settings.runtime != "torch":
        if device.type != "cpu":
            raise RuntimeError(f"handler.runtime {settings.runtime} computes on the CPU, but this worker has {device}")
        source = ExportSource(weights_path.stem, model.eval(), labels, spec.arch, spec.filter_size)
        return proven_module(source, settings.runtime)
    return prepare_for_inference(
        model,
        device,
        fold_bn=settings.fold_batch_norm,
        channels_last=settings.channels_last,
        compile=settings.compile,
        autocast_dtype=settings.autocast_dtype,
    )
