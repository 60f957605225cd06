"""The packages the evaluation and fine-tuning command lines need beyond serving's: `make run` installs
requirements.txt only, and a command run after it alone says which make target installs what it lacks."""

from __future__ import annotations

import importlib
import sys

# requirements-eval.txt's packages (by import name), installed by `make setup-eval` (and `make evaluate`,
# `make finetune`, `make setup-dev`); ray only for `--engine ray`.
EVAL_PACKAGES = ("pyarrow", "matplotlib", "ray")


def run_main(command: str) -> int:
    """`antialiased.COMMAND.cli.main()`'s exit status (`python -m antialiased.COMMAND`); when it (or what it imports)
    lacks one of EVAL_PACKAGES, a one-line error naming the package and the make target that installs it, status 2."""
    try:
        return importlib.import_module(f"antialiased.{command}.cli").main()
    except ModuleNotFoundError as error:
        package = (error.name or "").partition(".")[0]
        if package not in EVAL_PACKAGES:
            raise
        print(
            f"error: python -m antialiased.{command} needs {package}, which `make run` does not install: run "
            f'`make setup-eval` first (it installs requirements-eval.txt), or run it as `make {command} ARGS="..."`',
            file=sys.stderr,
        )
        return 2
