"""`python -m antialiased.finetune --help` says the truth about augmentation: on by default (`--augment`), turned off
by `--no-augment`; and the two flags do what the help says."""

from __future__ import annotations

import re

import pytest

from antialiased.finetune import cli
from antialiased.finetune.config import FinetuneConfig

REQUIRED = ["--model", "resnet18", "--data", "train", "--name", "mine"]


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps at the terminal's width


def test_the_help_shows_augmentation_on_by_default_and_how_to_turn_it_off(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    entry = re.search(r"--augment, --no-augment (.*?)\(default: (\w+)\)", text)
    assert entry is not None, text
    assert "--no-augment: resize and center crop" in entry.group(1) and entry.group(2) == "True"


@pytest.mark.parametrize(("flags", "augment"), [([], True), (["--augment"], True), (["--no-augment"], False)])
def test_the_augment_flags_set_what_the_help_says(flags: list[str], augment: bool) -> None:
    args = cli._parser().parse_args([*REQUIRED, *flags])
    assert FinetuneConfig(**vars(args)).augment is augment
