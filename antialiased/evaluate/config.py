"""What an evaluation run is asked to do (the command line's options), apart from how it runs: the engines'
options and the whole configuration. Plain data: engines, outputs and the CLI import it, it imports none of
them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from antialiased.evaluate.plans import EvaluationProtocol


@dataclass
class RayOptions:
    address: str | None = None
    actors: int = 1
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0


@dataclass
class EndpointOptions:
    url: str = ""
    concurrency: int = 4
    retries: int = 5
    backoff_s: float = 0.5
    timeout_s: float = 300.0


@dataclass
class EvaluationConfig:
    """Everything a run needs (the command line's options)."""

    data: Path
    models: list[str]
    out: Path
    protocol: EvaluationProtocol = field(default_factory=EvaluationProtocol)
    labels: Path | None = None
    ground_truth: Path | None = None
    alexnet: Path | None = None  # AlexNet's ImageNet-P figures, for mFR and mT5D (perturbations.alexnet_figures)
    layout: str = "auto"  # of a folder of sequences (antialiased.datasets.sequences.LAYOUTS)
    limit: int | None = None
    engine: str = "local"
    device: str = "auto"
    precision: str = "auto"
    workers: int = 1
    max_views: int = 64
    shard_size: int = 256
    overwrite: bool = False
    quiet: bool = False
    ray: RayOptions = field(default_factory=RayOptions)
    endpoint: EndpointOptions = field(default_factory=EndpointOptions)
