"""Command line: `python -m antialiased.finetune --model SPEC --data DIR --name NAME [options]`, alone or under
`torchrun --nproc-per-node N -m antialiased.finetune ...`.

Failures print one line, `error: ...`, and exit with status 2; a run stopped by SIGTERM or Ctrl-C saves its state
and exits with 128 + the signal (the same command resumes it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from antialiased.command_line import command_parser, refuse
from antialiased.finetune.config import BATCH_NORM_MODES, PRECISIONS, FinetuneConfig
from antialiased.finetune.loop import finetune
from antialiased.weights import WeightsError
from antialiased.weights.registry_file import REGISTRY_FILE

D = FinetuneConfig  # the defaults


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "python -m antialiased.finetune",
        "Antialias a baseline and fine-tune it on an ImageFolder (the paper's recipe by default).",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--model", required=True, metavar="SPEC",
                       help="registry name, [torchvision:|timm:]ARCH (--weights), PATH:MODULE:CALLABLE; a bare "
                            "name is the registry's first: torchvision:ARCH for torchvision's")  # fmt: skip
    model.add_argument("--weights", help="baseline weights of ARCH: a checkpoint file or a torchvision weights name")
    model.add_argument("--filter-size", type=int, default=D.filter_size, help="the blur's taps (1-7)")
    model.add_argument("--num-classes", type=int,
                       help="a new classifier of this many classes: the data's class folders, in ImageFolder's "
                       "order (the default for folders that are not all ImageNet synsets)")  # fmt: skip
    data = parser.add_argument_group("data")
    data.add_argument("--data", type=Path, required=True, help="training ImageFolder (class folders)")
    data.add_argument("--labels", type=Path,
                      help="JSON {folder: class index or synset}: map the folders to classes yourself")  # fmt: skip
    data.add_argument("--val", type=Path, help="validation ImageFolder: top-1 and consistency after each epoch")
    data.add_argument("--val-limit", type=int, help="validate on this many evenly spaced images")
    recipe = parser.add_argument_group("recipe (the paper's fine-tuning by default)")
    recipe.add_argument("--epochs", type=int, default=D.epochs)
    recipe.add_argument("--batch-size", type=int, default=D.batch_size, help="global, over all processes")
    recipe.add_argument("--lr", type=float, default=D.lr)
    recipe.add_argument("--momentum", type=float, default=D.momentum)
    recipe.add_argument("--weight-decay", type=float, default=D.weight_decay)
    recipe.add_argument("--lr-step", type=int, default=D.lr_step, help="epochs between learning-rate drops")
    recipe.add_argument("--lr-gamma", type=float, default=D.lr_gamma, help="factor of each drop")
    recipe.add_argument("--crop-size", type=int, default=D.crop_size)
    recipe.add_argument("--augment", action=argparse.BooleanOptionalAction, default=D.augment,
                        help="RandomResizedCrop + flip; --no-augment: resize and center crop")  # fmt: skip
    recipe.add_argument("--batch-norm", choices=BATCH_NORM_MODES, default=D.batch_norm,
                        help="statistics per process, synchronised (GPUs), or frozen running statistics")  # fmt: skip
    recipe.add_argument("--seed", type=int, default=D.seed)
    run = parser.add_argument_group("execution")
    run.add_argument("--device", default=D.device, help="auto (the local GPU under torchrun), cpu, cuda, cuda:N")
    run.add_argument("--precision", choices=PRECISIONS, default=D.precision,
                     help="auto: bfloat16 autocast on a GPU, float32 on the CPU")  # fmt: skip
    run.add_argument("--compile", action="store_true", help="torch.compile the model")
    run.add_argument("--workers", type=int, default=D.workers, help="loader processes per training process")
    run.add_argument("--save-every", type=int, default=D.save_every, help="steps between checkpoints (0: per epoch)")
    run.add_argument("--max-steps", type=int, help="stop after this many steps in all (resumable)")
    output = parser.add_argument_group("output")
    output.add_argument("--name", required=True, help="the weights' name (registry, file name)")
    output.add_argument("--out", type=Path, default=D.out, help="weights, registry.json, and the run folder OUT/NAME")
    output.add_argument("--overwrite", action="store_true", help="discard a run of other settings in OUT/NAME")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        result = finetune(FinetuneConfig(**vars(args)))
    except (ValueError, WeightsError) as error:
        return refuse(error)
    if result.signal:
        print(f"stopped at step {result.steps}: run the same command to resume", file=sys.stderr)
        return 128 + result.signal
    if not result.finished:
        print(f"stopped at step {result.steps} (--max-steps): run it again without it to go on")
    elif result.weights is not None:
        print(f"weights: {result.weights}")
        if result.registered:
            registry = (result.weights.parent.parent / REGISTRY_FILE).resolve()
            print(f"registered as {result.registered} in {registry}: serve it with")
            print(f'  ANTIALIASED_WEIGHTS_REGISTRY={registry} make run ARGS="--model mine={result.registered}"')
    return 0
