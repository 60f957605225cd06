"""Command line: `python -m antialiased.weights {list, fetch NAME, verify PATH NAME}`.

Failures print one line, `error: ...`, on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from antialiased.command_line import command_parser, refuse
from antialiased.regular_files import open_regular
from antialiased.weights.errors import CheckpointFormatError, WeightsError
from antialiased.weights.fetch import fetch, resolve_cache_dir, verify_file
from antialiased.weights.load import load_entry_weights
from antialiased.weights.registry import OFFICIAL_LICENSE, get_entry, list_entries


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _list(args: argparse.Namespace) -> None:
    directory = resolve_cache_dir(args.cache_dir)
    header = ("name", "arch", "filter", "training", "top-1 %", "consist. %", "sha256", "source", "cached")
    rows = [
        (
            entry.name,
            entry.arch,
            "-" if entry.filter_size is None else str(entry.filter_size),
            entry.training,
            _percent(entry.accuracy),
            _percent(entry.consistency),
            entry.sha256_prefix,
            entry.source,
            "yes" if (directory / entry.file_name).is_file() else "",
        )
        for entry in list_entries()
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(f"\ncache: {directory}\nThe paper's weights (source 'paper') are licensed {OFFICIAL_LICENSE}.")


def _fetch(args: argparse.Namespace) -> None:
    print(fetch(args.name, cache_dir=args.cache_dir, progress=not args.quiet))


def _verify(args: argparse.Namespace) -> None:
    entry = get_entry(args.name)
    try:
        open_regular(args.path).close()  # not a FIFO (reading it would wait forever), a directory, a device
    except OSError as exc:
        raise CheckpointFormatError(f"cannot verify {args.path}: {exc.strerror or exc}") from None
    verify_file(args.path, entry)
    load_entry_weights(entry, args.path)
    print(f"ok: {args.path} is {entry.name} (sha256 {entry.sha256_prefix}…, loads strictly into {entry.arch})")


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "python -m antialiased.weights", "List, fetch and verify the checkpoints of antialiased models."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show every registered checkpoint")
    listing.add_argument("--cache-dir", help="cache directory to look in (default: $ANTIALIASED_CACHE_DIR or ~/.cache)")
    listing.set_defaults(run=_list)
    fetching = commands.add_parser("fetch", help="download and verify a checkpoint, print its path")
    fetching.add_argument("name")
    fetching.add_argument("--cache-dir", help="where to keep it (default: $ANTIALIASED_CACHE_DIR or ~/.cache)")
    fetching.add_argument("--quiet", action="store_true", help="no progress bar")
    fetching.set_defaults(run=_fetch)
    verifying = commands.add_parser("verify", help="check a local file against a registry entry's hash and model")
    verifying.add_argument("path")
    verifying.add_argument("name")
    verifying.set_defaults(run=_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except WeightsError as exc:
        return refuse(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
