"""Build the model store: fetch each model's weights (verified) and write its archive.

    python -m archives.build                       # resnet50_lpf4 (fine-tuned weights) and resnet50
    python -m archives.build --model resnet50_lpf4=resnet50_lpf4 --batch-size 16
    python -m archives.build --untrained-fallback  # offline: random weights, flagged untrained

`--model NAME=WEIGHTS` serves registry checkpoint WEIGHTS (see `python -m antialiased.weights list`)
under the model name NAME; it may be repeated. Archives go to build/archives, weights to
build/weights (or $ANTIALIASED_CACHE_DIR). A failure prints one line, `error: ...`, and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from antialiased.command_line import refuse
from antialiased.export.writers import check_packages
from antialiased.inference import PRECISIONS
from antialiased.serving.default_models import DEFAULT_MODELS
from antialiased.weights import WeightsError, WeightsUnavailableError, save_checkpoint
from antialiased.weights.fetch import CACHE_ENV, fetch
from antialiased.weights.load import build_model, load_entry_weights
from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_config, model_spec
from handlers.settings import DEVICES, RUNTIMES

DEFAULT_STORE = Path("build/archives")
MODELS_ENV = "TORCHSERVE_MODELS"  # NAME=WEIGHTS,...: the served models where no --model is given (containers)
DEFAULT_WEIGHTS_DIR = Path("build/weights")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltArchive:
    """One archive of the store: served name, file, the registry weights it holds, and whether they are random."""

    name: str
    path: Path
    weights: str
    untrained: bool


def untrained_warning(names: Sequence[str]) -> str:
    """The banner printed when models serve random weights."""
    line = "!" * 100
    return (
        f"\n{line}\n!!  WARNING: the weights of {', '.join(names)} could not be fetched (offline?).\n"
        "!!  Serving RANDOMLY INITIALISED weights: every prediction is meaningless, and every answer says\n"
        '!!  "untrained": true. Fetch the weights (python -m antialiased.weights fetch NAME) and rebuild.\n'
        f"{line}\n"
    )


def build_archives(
    store: Path = DEFAULT_STORE,
    models: Mapping[str, str] = DEFAULT_MODELS,
    *,
    weights_dir: Path | None = None,
    untrained_fallback: bool = False,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> list[BuiltArchive]:
    """Fetch (or reuse) each model's verified weights and build its archive into `store`.

    When a download fails and `untrained_fallback` is set, the model gets random weights (seeded,
    official format) and every answer is flagged untrained; otherwise the WeightsError propagates.
    """
    check_runtime_installed(overrides)
    weights_dir = Path(weights_dir or os.environ.get(CACHE_ENV) or DEFAULT_WEIGHTS_DIR)
    built = []
    for name, weights in models.items():
        entry = get_entry(weights)
        try:
            path, untrained = fetch(weights, cache_dir=weights_dir, progress=progress), False
            if entry.source == "user":  # yours: checked to fit its classes now, not when a worker loads it
                load_entry_weights(entry, path)
        except WeightsUnavailableError as error:
            if not untrained_fallback or entry.format == "pt2":  # a program has no random stand-in
                raise
            log.warning("%s: %s", name, error)
            torch.manual_seed(0)
            # Beside the archives, not among the weights: the weights folder may be a read-only volume.
            path = save_checkpoint(build_model(entry), Path(store) / "untrained", f"{weights}_untrained")
            untrained = True
        archive = build_archive(
            name,
            store=store,
            weights_path=path,
            model=model_spec(entry),
            weights_name=None if untrained else weights,
            untrained=untrained,
            overrides=overrides,
            labels=None if entry.labels is None else Path(entry.labels),
        )
        built.append(BuiltArchive(name, archive, weights, untrained))
    return built


def check_runtime_installed(overrides: Mapping[str, Any] | None = None) -> None:
    """ValueError when model-config.yaml with `overrides` asks for a handler.runtime whose packages this Python
    lacks: said before any download, not by workers that fail to load (TorchServe would retry them without end)."""
    runtime = model_config({}, {}, overrides)["handler"]["runtime"]
    if runtime != "torch":
        try:
            check_packages(runtime)
        except ValueError as error:
            raise ValueError(f"handler.runtime {runtime}: {error} (the TorchServe image has them)") from None


def _model_pair(text: str) -> tuple[str, str]:
    name, sep, weights = text.partition("=")
    if not sep or not name or not weights:
        raise argparse.ArgumentTypeError(f"expected NAME=WEIGHTS, got {text!r}")
    return name, weights


def served_models(args: argparse.Namespace) -> dict[str, str]:
    """Served name -> registry weights: the --model options, else $TORCHSERVE_MODELS (`NAME=WEIGHTS,...`, the
    containers' setting), else the default models. ValueError for a malformed $TORCHSERVE_MODELS."""
    if args.model:
        return dict(args.model)
    listed = [item.strip() for item in os.environ.get(MODELS_ENV, "").split(",") if item.strip()]
    try:
        return dict(map(_model_pair, listed)) or dict(DEFAULT_MODELS)
    except argparse.ArgumentTypeError as error:
        raise ValueError(f"{MODELS_ENV}: {error}") from None


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """model-config.yaml overrides from the serving options of the command line."""
    overrides: dict[str, Any] = {}
    handler: dict[str, Any] = {}
    for option, key in (("batch_size", "batchSize"), ("max_batch_delay", "maxBatchDelay")):
        if getattr(args, option) is not None:
            overrides[key] = getattr(args, option)
    if args.workers is not None:
        overrides["minWorkers"] = overrides["maxWorkers"] = args.workers
    for option in ("device", "precision", "runtime"):
        if getattr(args, option) is not None:
            handler[option] = getattr(args, option)
    if args.compile:
        handler["compile"] = True
    return {**overrides, "handler": handler} if handler else overrides


def add_serving_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose models and override model-config.yaml (shared with scripts.run)."""
    parser.add_argument("--model", action="append", type=_model_pair, metavar="NAME=WEIGHTS",
                        help=f"serve registry weights WEIGHTS as model NAME (repeatable; default: ${MODELS_ENV}, "
                        "else " + ", ".join(f"{n}={w}" for n, w in DEFAULT_MODELS.items()) + ")")  # fmt: skip
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="model store directory (the archives)")
    parser.add_argument("--weights-dir", type=Path, help=f"weights cache (default: ${CACHE_ENV} or build/weights)")
    parser.add_argument("--batch-size", type=int, help="TorchServe batchSize")
    parser.add_argument("--max-batch-delay", type=int, help="TorchServe maxBatchDelay (ms)")
    parser.add_argument("--workers", type=int, help="workers per model")
    parser.add_argument("--device", choices=DEVICES, help="handler device")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), help="autocast dtype on CUDA")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    parser.add_argument("--runtime", choices=RUNTIMES,
                        help="what computes the forward pass on the CPU (docs/configuration.md)")  # fmt: skip


def build_from_args(args: argparse.Namespace, *, untrained_fallback: bool, progress: bool = True) -> list[BuiltArchive]:
    """Build the archives that `add_serving_options` arguments ask for; print each and the untrained banner."""
    built = build_archives(
        args.store,
        served_models(args),
        weights_dir=args.weights_dir,
        untrained_fallback=untrained_fallback,
        overrides=overrides_from_args(args),
        progress=progress,
    )
    for archive in built:
        state = "UNTRAINED random weights" if archive.untrained else f"weights {archive.weights}"
        print(f"model {archive.name}: {state} ({archive.path})")
    untrained = untrained_names(built)
    if untrained:
        print(untrained_warning(untrained), file=sys.stderr, flush=True)
    return built


def untrained_names(built: Sequence[BuiltArchive]) -> list[str]:
    return [archive.name for archive in built if archive.untrained]


def main(argv: Sequence[str] | None = None) -> int:
    """Build the archives; print one line per archive."""
    parser = argparse.ArgumentParser(prog="python -m archives.build", description=__doc__.splitlines()[0])
    add_serving_options(parser)
    parser.add_argument("--untrained-fallback", action="store_true",
                        help="when weights cannot be downloaded, serve random weights flagged untrained")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        build_from_args(args, untrained_fallback=args.untrained_fallback)
    except (WeightsError, ValueError) as error:  # ValueError: a malformed TORCHSERVE_MODELS
        return refuse(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
