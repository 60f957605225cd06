"""Command line: `python -m antialiased.evaluate --data DIR --model NAME [--model ...] [options]`; a folder of frame
sequences (one folder per sequence): `--sequences DIR`, the same as `--data DIR --measure sequence`.

Prints the figures and where the outputs are; failures print one line, `error: ...`, and exit with status 2;
an interruption (Ctrl-C) prints one line and exits with status 130 (the shards written are kept: the same command
resumes).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from antialiased.command_line import command_parser, refuse
from antialiased.datasets import LAYOUTS, DataError
from antialiased.errors import ApiError
from antialiased.evaluate.config import EndpointOptions, EvaluationConfig, RayOptions
from antialiased.evaluate.engines.endpoint import EndpointError
from antialiased.evaluate.engines.kinds import ENGINE_KINDS
from antialiased.evaluate.model_specs import ModelSpecError
from antialiased.evaluate.plans import MEASURES, MODES, SEQUENCE, EvaluationProtocol
from antialiased.evaluate.run import ClassMismatchError, evaluate
from antialiased.evaluate.store import IMAGES_FILE, REPORT_FILE, RESULTS_FILE, RunDirectoryError
from antialiased.evaluate.summary import FIGURES
from antialiased.weights import WeightsError

DEFAULT_OUT = Path("build/evaluation")
INTERRUPTED = 128 + signal.SIGINT  # the shell's status of a command ended by Ctrl-C
DEFAULT_WORKERS = max(1, min(8, (os.cpu_count() or 2) - 1))  # leave a core to the model
_USER_ERRORS = (
    DataError,
    EndpointError,
    ModelSpecError,
    ClassMismatchError,
    RunDirectoryError,
    WeightsError,
    ApiError,
    ValueError,
)


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "python -m antialiased.evaluate",
        "Accuracy and shift consistency of models over a labelled image data set, as in the paper.",
    )
    data = parser.add_argument_group("data")
    where = data.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--data",
        type=Path,
        help="ImageFolder tree (class folders), or with --ground-truth a flat ImageNet validation folder",
    )
    where.add_argument(
        "--sequences",
        type=Path,
        metavar="DIR",
        help="a folder of sequences: folders of frames (in name order), folders of videos, or ImageNet-P (its "
        "perturbation folders); no labels: the flip rate, mean top-5 distance and wobble from frame to frame, and "
        "ImageNet-P's figures; the same as --data DIR --measure sequence",
    )
    data.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=EvaluationConfig.layout,
        help="of --sequences: imagenet-p (DIR/<perturbation>/<class>/<video>), folders (each folder of DIR: the "
        "frames of one sequence, or videos), auto: imagenet-p when every folder of DIR is named as a perturbation",
    )
    data.add_argument(
        "--labels",
        type=Path,
        help="JSON object {folder: class index or ImageNet synset} for folders not named by ImageNet synsets",
    )
    data.add_argument("--ground-truth", type=Path, help="LOC_val_solution.csv for a flat ImageNet validation folder")
    data.add_argument("--limit", type=int, help="evaluate this many evenly spaced images (or sequences)")
    data.add_argument(
        "--alexnet",
        type=Path,
        metavar="FILE",
        help="ImageNet-P: AlexNet's figures for mFR and mT5D (an earlier run's results.json with --model "
        "alexnet_baseline, or {perturbation: {flip_probability, top5_distance}}); default: an AlexNet of this run",
    )
    models = parser.add_argument_group("models")
    models.add_argument(
        "--model",
        action="append",
        default=[],
        dest="models",
        metavar="SPEC",
        help="registry name, PATH:ARCH:FILTER, PATH:ARCH:baseline or PATH:MODULE:CALLABLE; "
        "with --endpoint a served model name. Repeat to compare models",
    )
    models.add_argument("--endpoint", metavar="URL", help="TorchServe inference URL: evaluate the served models")
    models.add_argument(
        "--concurrency", type=int, default=EndpointOptions.concurrency, help="endpoint: requests in flight"
    )
    models.add_argument(
        "--retries", type=int, default=EndpointOptions.retries, help="endpoint: retries of a 503 or refused connection"
    )
    protocol = parser.add_argument_group("protocol")
    protocol.add_argument(
        "--measure",
        help=f"comma-separated, of {', '.join(MEASURES)} (accuracy is always measured, but for sequence: alone) "
        f"(default: {','.join(EvaluationProtocol.measures)}; with --sequences: {SEQUENCE})",
    )
    protocol.add_argument(
        "--mode",
        choices=MODES,
        default=EvaluationProtocol.mode,
        help="consistency offsets: per image "
        "(independent of batching and engine) or the paper's (one pair per batch, numpy's generator)",
    )
    protocol.add_argument(
        "--epochs-shift", type=int, default=EvaluationProtocol.epochs_shift, help="shift passes over the data"
    )
    protocol.add_argument("--seed", type=int, default=EvaluationProtocol.seed)
    protocol.add_argument(
        "--batch-size",
        type=int,
        default=EvaluationProtocol.batch_size,
        help="images per batch (in paper mode: per offset pair)",
    )
    run = parser.add_argument_group("execution")
    run.add_argument(
        "--engine",
        choices=[name for name, kind in ENGINE_KINDS.items() if kind.loads_models],
        default=EvaluationConfig.engine,
    )
    run.add_argument(
        "--device", default=EvaluationConfig.device, help="auto (a GPU when there is one), cpu, cuda, cuda:N"
    )
    run.add_argument(
        "--precision",
        default=EvaluationConfig.precision,
        help="auto (bfloat16 on a GPU, float32 on the CPU), float32, bfloat16, float16",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="local: loader processes that decode and cut views (0: in the main process)",
    )
    run.add_argument("--max-views", type=int, default=EvaluationConfig.max_views, help="views per forward pass at most")
    run.add_argument("--ray-address", help="ray: the cluster to join (default: a local one)")
    run.add_argument("--ray-actors", type=int, default=RayOptions.actors, help="ray: model actors")
    run.add_argument("--ray-cpus-per-actor", type=float, default=RayOptions.cpus_per_actor)
    run.add_argument("--ray-gpus-per-actor", type=float, default=RayOptions.gpus_per_actor)
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=DEFAULT_OUT, help="run directory: resumes the run in it")
    output.add_argument("--overwrite", action="store_true", help="discard a run of other settings in --out")
    output.add_argument("--shard-size", type=int, default=EvaluationConfig.shard_size, help="images per results shard")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _measures(args: argparse.Namespace) -> tuple[str, ...]:
    """--measure's, or the default of --data or --sequences (which is --measure sequence and nothing else)."""
    if args.measure is None:
        return (SEQUENCE,) if args.sequences else EvaluationProtocol.measures
    measures = tuple(m.strip() for m in args.measure.split(",") if m.strip())
    if args.sequences and measures != (SEQUENCE,):
        raise ValueError(f"--sequences is measured by the {SEQUENCE} measure alone: leave out --measure")
    return measures


def config_from_args(args: argparse.Namespace) -> EvaluationConfig:
    protocol = EvaluationProtocol(
        mode=args.mode,
        seed=args.seed,
        epochs_shift=args.epochs_shift,
        batch_size=args.batch_size,
        measures=_measures(args),
    )
    return EvaluationConfig(
        data=args.sequences or args.data,
        models=args.models,
        out=args.out,
        protocol=protocol,
        labels=args.labels,
        ground_truth=args.ground_truth,
        alexnet=args.alexnet,
        layout=args.layout,
        limit=args.limit,
        engine="endpoint" if args.endpoint else args.engine,
        device=args.device,
        precision=args.precision,
        workers=args.workers,
        max_views=args.max_views,
        shard_size=args.shard_size,
        overwrite=args.overwrite,
        quiet=args.quiet,
        ray=RayOptions(args.ray_address, args.ray_actors, args.ray_cpus_per_actor, args.ray_gpus_per_actor),
        endpoint=EndpointOptions(args.endpoint or "", args.concurrency, args.retries),
    )


def _estimate(e: dict, sign: str = "") -> str:
    if e["value"] is None:
        return "unknown"
    return f"{e['value']:{sign}8.3f}  [{e['ci_low']:{sign}.3f}, {e['ci_high']:{sign}.3f}]"


def _print_summary(results: dict, out: Path) -> None:
    figures = [f for f in FIGURES if f.measure in results["protocol"]["measures"]]
    dataset = results["dataset"]
    unit = dataset["unit"]
    print(
        f"{dataset['evaluated']} {unit} evaluated ({dataset['kind']}), {len(dataset['unreadable'])} unreadable, "
        f"{len(dataset['skipped_folders'])} folders and {len(dataset['skipped_files'])} files skipped"
    )
    for model in results["models"]:
        print(f"{model['name']}:")
        for figure in figures:
            e = model["figures"][figure.name]
            print(f"  {figure.title:32s} {_estimate(e)}")
    for comparison in results["comparisons"]:
        for name, d in comparison["differences"].items():
            mark = "  (significant)" if d["significant"] else ""
            print(f"{comparison['a']} - {comparison['b']} {name}: {_estimate(d, '+')}{mark}")
    if "imagenet_p" in results:
        _print_imagenet_p(results)
    table = "per-sequence" if unit == "sequences" else "per-image"
    print(f"results: {out / RESULTS_FILE}, report: {out / REPORT_FILE}, {table} table: {out / IMAGES_FILE}")


def _print_imagenet_p(results: dict) -> None:
    """mFR and mT5D of each model (AlexNet-normalised, difficulty 1), then the leaderboard's, marked published."""
    imagenet_p = results["imagenet_p"]
    by = imagenet_p["normalised_by"] or "no AlexNet figures: run --model alexnet_baseline or pass --alexnet FILE"
    print(f"ImageNet-P, difficulty 1, normalised by AlexNet ({by}):")
    tests = len(imagenet_p["test_perturbations"])
    for model in results["models"]:
        mfr, mt5d = model["imagenet_p"]["mFR"], model["imagenet_p"]["mT5D"]
        count = f"  ({len(mfr['perturbations'])} of {tests} perturbations)" if mfr["perturbations"] else ""
        print(f"  {model['name']:40s} mFR {_percent(mfr['value'])}  mT5D {_percent(mt5d['value'])}{count}")
    for row in imagenet_p["published"]:
        print(f"  {row['method'] + ' (published)':40s} mFR {_percent(row['mfr'])}  mT5D {_percent(row['mt5d'])}")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(format="%(levelname)s: %(message)s")  # warnings (skipped files, damaged shards) on stderr
    try:
        if args.endpoint and args.engine != "local":
            raise ValueError("--endpoint evaluates served models: it cannot be combined with --engine")
        if args.alexnet and not args.sequences:
            raise ValueError("--alexnet normalises ImageNet-P's figures: it goes with --sequences")
        config = config_from_args(args)
        results = evaluate(config)
    except _USER_ERRORS as error:
        return refuse(error)
    except KeyboardInterrupt:
        again = "the same command without --overwrite" if args.overwrite else "the same command"
        print(f"interrupted: run {again} to resume (the finished shards in {args.out} are kept)", file=sys.stderr)
        return INTERRUPTED
    _print_summary(results, config.out)
    return 0
