"""Command line: `python -m antialiased.export --model SPEC [--weights W] --format pt2 --out DIR --name NAME`.

Failures print one line, `error: ...`, and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from antialiased.command_line import command_parser, refuse
from antialiased.export.formats import FORMATS
from antialiased.export.source import resolve_source
from antialiased.label_sets import LabelSetError
from antialiased.weights import WeightsError
from antialiased.weights.registry import REGISTRY_ENV
from antialiased.weights.registry_file import REGISTRY_FILE, check_name

DEFAULT_OUT = Path("build/export")


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "python -m antialiased.export", "Export a model to a file served without its source code (docs/export.md)."
    )
    parser.add_argument("--model", required=True, metavar="SPEC",
                        help="registry name, [torchvision:|timm:]ARCH (--weights), PATH:MODULE:CALLABLE")  # fmt: skip
    parser.add_argument("--weights", help="the checkpoint of ARCH: a file, or a torchvision weights name")
    parser.add_argument("--filter-size", type=int,
                        help="antialias the network (the blur's taps, 1-7) before loading the checkpoint: the "
                        "checkpoint of an antialiased network (a fine-tuning output)")  # fmt: skip
    parser.add_argument("--num-classes", type=int, help="a classifier of this many outputs before loading")
    parser.add_argument("--classes", type=Path, metavar="LABELS.json",
                        help="class names by class index (default: the registry entry's, else ImageNet's)")  # fmt: skip
    parser.add_argument("--format", choices=sorted(FORMATS), default="pt2", help="what to write")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the folder written into")
    parser.add_argument("--name", required=True, help="the exported model's name (registry, served model)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        check_name(args.name)
        source = resolve_source(
            args.name,
            args.model,
            args.weights,
            filter_size=args.filter_size,
            num_classes=args.num_classes,
            classes=args.classes,
        )
        written = FORMATS[args.format](source, args.out)
    except (ValueError, WeightsError, LabelSetError) as error:  # ModelError, ExportError are ValueErrors
        return refuse(error)
    for path in written:
        print(f"wrote {path}")
    registry = args.out / REGISTRY_FILE
    if registry in written:
        print(f"registered as {args.name} in {registry.resolve()}: serve it with")
        print(f'  {REGISTRY_ENV}={registry.resolve()} make run ARGS="--model {args.name}={args.name}"')
    return 0
