"""Command line: `python -m antialiased.sequences make --data IMAGEFOLDER --out DIR` writes ImageNet-P's translate
sequences of your own images (`antialiased.datasets.translate`); then `python -m antialiased.evaluate --sequences DIR`
measures how stable a model is from frame to frame on them. Failures print one line, `error: ...`, and exit 2.

A program, imported by nothing: it may use the data set layer above the library (tests/test_import_layers.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from antialiased.command_line import command_parser, refuse
from antialiased.datasets.translate import PERTURBATION, TranslateOptions, make_translate

DEFAULTS = TranslateOptions()


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "python -m antialiased.sequences", "Frame sequences as ImageNet-P makes them, from your own images."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser(
        "make",
        help="write ImageNet-P-format translate sequences (H.264 MP4) of every image of an image folder",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    make.add_argument("--data", type=Path, required=True, help="image folder: class folders of images")
    make.add_argument("--out", type=Path, required=True, help=f"writes OUT/{PERTURBATION}/<class>/<image>.mp4")
    make.add_argument("--max-shift", type=int, default=DEFAULTS.max_shift, help="shifts -N..+N pixels: 2N+1 frames")
    make.add_argument("--resize", type=int, default=DEFAULTS.resize, help="shorter side resized to this first")
    make.add_argument("--crop", type=int, default=DEFAULTS.crop, help="center crop of each frame")
    make.add_argument("--crf", type=int, default=DEFAULTS.crf, help="H.264 quality (lower: better, larger)")
    make.add_argument("--preset", default=DEFAULTS.preset, help="x264 preset (ultrafast .. veryslow)")
    make.add_argument("--pix-fmt", default=DEFAULTS.pix_fmt, help="yuv444p, or yuv420p for web players")
    make.add_argument("--limit", type=int, help="the first N images only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = TranslateOptions(args.max_shift, args.resize, args.crop, args.crf, args.preset, args.pix_fmt)
    problem = _check(args, options)
    if problem:
        return refuse(problem)
    try:
        report = make_translate(args.data, args.out, options, args.limit)
    except (OSError, ValueError) as error:  # an encoder option x264 refuses, an output folder it cannot write
        return refuse(error)
    for name, reason in report.unreadable or ():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    where = args.out / PERTURBATION
    print(f"{report.written} sequences written to {where}, {report.kept} already there, "
          f"{len(report.unreadable or ())} images unreadable")  # fmt: skip
    if not report.written and not report.kept:
        return refuse(f"no image of {args.data} could be made into a sequence")
    return 0


def _check(args: argparse.Namespace, options: TranslateOptions) -> str | None:
    """What is wrong with the arguments, or None."""
    if not args.data.is_dir():
        return f"--data {args.data} is not a directory"
    if options.max_shift < 1 or not 0 <= options.crf <= 51:
        return "--max-shift must be at least 1 (two frames) and --crf in 0..51"
    if not 1 <= options.crop <= options.resize:
        return f"--crop {options.crop} must be in 1..--resize ({options.resize})"
    if options.crop % 2:
        return f"--crop {options.crop} must be even (H.264 frames have even sides)"
    if args.limit is not None and args.limit < 1:
        return "--limit must be at least 1"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
