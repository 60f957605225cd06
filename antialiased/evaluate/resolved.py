"""A run as it is resolved from its configuration: data, models, output folder, engine kind, device, precision."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from antialiased.datasets import Dataset
from antialiased.evaluate.config import EvaluationConfig
from antialiased.evaluate.engines.kinds import EngineKind
from antialiased.evaluate.model_specs import LoadedModel, ModelSource
from antialiased.evaluate.store import RunStore


@dataclass(frozen=True)
class Run:
    """A run as it is resolved: its configuration, data, models (named; loaded here unless served), output folder,
    engine kind, device and precision."""

    config: EvaluationConfig
    dataset: Dataset
    sources: list[ModelSource]
    loaded: list[LoadedModel]
    store: RunStore
    kind: EngineKind
    device: torch.device
    precision: str
