"""docs/finetune.md names only options that `python -m antialiased.finetune` has: every `--flag` of its fine-tuning
commands (`-m antialiased.finetune ...`, `make finetune ARGS="..."`) and of its prose's inline options (a code span
that starts with `--`) appears in the command's `--help`. Other commands' flags (the authors' `main.py`, a
benchmark's) are in spans or lines of their own and are not read; those the page gives torchrun are torchrun's."""

from __future__ import annotations

import re

import pytest

from antialiased.finetune.cli import main
from tests.support.docs_commands import ROOT

PAGE = ROOT / "docs/finetune.md"
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_OPTION_SPAN = re.compile(r"`(--[^`]*)`")
_FINETUNE_ARGS = re.compile(r"-m antialiased\.finetune (.*)$|make finetune ARGS=\"([^\"]*)\"", re.MULTILINE)
_TORCHRUN_ARGS = re.compile(r"torchrun (.*?) -m ")


def _help_flags(capsys: pytest.CaptureFixture[str]) -> set[str]:
    with pytest.raises(SystemExit):
        main(["--help"])
    return set(_FLAG.findall(capsys.readouterr().out))


def _page_flags(text: str) -> set[str]:
    """The flags the page gives the fine-tuning command."""
    spans = _OPTION_SPAN.findall(text)
    commands = [" ".join(groups) for groups in _FINETUNE_ARGS.findall(text)]
    torchrun = {flag for part in _TORCHRUN_ARGS.findall(text) for flag in _FLAG.findall(part)}
    return {flag for part in spans + commands for flag in _FLAG.findall(part)} - torchrun


def test_the_page_reads_its_flags_from_commands_and_spans() -> None:
    text = "`--lr-step`, `main.py -a x --finetune`, `--nnodes`\ntorchrun --nnodes 2 -m antialiased.finetune --data d\n"
    assert _page_flags(text) == {"--lr-step", "--data"}


def test_every_flag_the_finetune_page_names_is_an_option_of_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    named = _page_flags(PAGE.read_text())
    assert {"--model", "--no-augment", "--batch-norm", "--val-limit"} <= named  # the page's flags were found
    assert named - _help_flags(capsys) == set()
