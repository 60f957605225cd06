"""What the project's command lines share: their parser's header and their one-line failure with status 2.

Every command (`python -m antialiased.{weights,evaluate,finetune,export,sequences}`, `python -m archives.build`)
fails the same way: one line, `error: ...`, on stderr, and exit status 2 (argparse's own for a usage error).
Torch-free.
"""

from __future__ import annotations

import argparse
import sys

USAGE_ERROR = 2  # the exit status of a refused command, as argparse's


def command_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser named `prog` whose `--help` shows each option's default."""
    return argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def refuse(error: BaseException | str) -> int:
    """Print `error: <error>` on stderr; return the status a refused command exits with."""
    print(f"error: {error}", file=sys.stderr)
    return USAGE_ERROR
