"""The evaluation's engines by name, in one table: what each means for a run (where the models run, in which
precision, whether this process loads them, what it adds to the run's manifest and version list) and how it is
built. Nothing outside this table looks at an engine's name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from antialiased.evaluate.engines.base import Engine, resolve_device, resolve_precision
from antialiased.evaluate.model_specs import LoadedModel, ModelSource

if TYPE_CHECKING:
    from antialiased.evaluate.config import EvaluationConfig

SERVED_PRECISION = "served"  # the endpoint's precision is the server's, not known here


@dataclass(frozen=True)
class EngineKind:
    """What an engine means for a run; subclasses build the engine."""

    name: str
    loads_models: bool = True  # False: the models are served elsewhere, named only
    packages: tuple[str, ...] = ()  # beyond the common ones, reported in results.json's versions
    scores_sequences: bool = True  # whether it takes a folder of sequences (the sequence measure)

    def device(self, config: EvaluationConfig) -> torch.device:
        """Where the models run."""
        return resolve_device(config.device)

    def precision(self, config: EvaluationConfig, device: torch.device) -> str:
        return resolve_precision(config.precision, device)

    def manifest(self, config: EvaluationConfig) -> dict[str, Any]:
        """What the run's manifest says of the engine (a run resumes only with the same)."""
        return {"endpoint": None}

    def create(
        self, config: EvaluationConfig, loaded: list[LoadedModel], sources: list[ModelSource], device, precision: str
    ) -> Engine:
        raise NotImplementedError


class LocalKind(EngineKind):
    def create(self, config, loaded, sources, device, precision) -> Engine:
        from antialiased.evaluate.engines.local import LocalEngine

        networks = {m.name: m.network for m in loaded}
        return LocalEngine(networks, device=device, precision=precision, batch_size=config.protocol.batch_size,
                           workers=config.workers, max_views=config.max_views)  # fmt: skip


class RayKind(EngineKind):
    def device(self, config: EvaluationConfig) -> torch.device:
        """The actors' device: a GPU when they are given one."""
        return torch.device("cuda" if config.ray.gpus_per_actor > 0 else "cpu")

    def create(self, config, loaded, sources, device, precision) -> Engine:
        from antialiased.evaluate.engines.ray_engine import RayEngine  # Ray is imported only for this engine

        return RayEngine(loaded, options=config.ray, precision=precision, batch_size=config.protocol.batch_size,
                         max_views=config.max_views)  # fmt: skip


class EndpointKind(EngineKind):
    def device(self, config: EvaluationConfig) -> torch.device:
        return torch.device("cpu")  # nothing runs here

    def precision(self, config: EvaluationConfig, device: torch.device) -> str:
        return SERVED_PRECISION

    def manifest(self, config: EvaluationConfig) -> dict[str, Any]:
        return {"endpoint": config.endpoint.url}

    def create(self, config, loaded, sources, device, precision) -> Engine:
        from antialiased.evaluate.engines.endpoint import EndpointEngine

        return EndpointEngine([s.name for s in sources], config.endpoint)


ENGINE_KINDS: dict[str, EngineKind] = {
    kind.name: kind
    for kind in (
        LocalKind("local"),
        RayKind("ray", packages=("ray",), scores_sequences=False),
        EndpointKind("endpoint", loads_models=False),
    )
}


def engine_kind(name: str) -> EngineKind:
    """The engine called `name`; ValueError naming the others."""
    if name not in ENGINE_KINDS:
        raise ValueError(f"unknown engine {name!r}; use one of {', '.join(ENGINE_KINDS)}")
    return ENGINE_KINDS[name]
