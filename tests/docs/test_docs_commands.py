"""Every command the README and docs/ show is run by a test, from the docs' own text, or says in the docs that it
needs a GPU or the internet (which the tests do not have); a few are run in an equivalent form, each named below
with how it differs (tests/support/docs_commands.py: RUN, EQUIVALENT). A command added to the docs without
either fails here."""

from __future__ import annotations

import re

import pytest

from tests.support.docs_commands import EQUIVALENT, ROOT, RUN, doc_commands


def _claims(text: str) -> list[str]:
    return [pattern for pattern in (*RUN, *EQUIVALENT) if re.search(pattern, text)]


@pytest.mark.parametrize("command", doc_commands(), ids=lambda command: f"{command.page}:{command.text[:40]}")
def test_every_command_is_run_or_says_what_it_needs(command) -> None:
    claims = _claims(command.text)
    if command.needs:
        assert not claims, f"{command.text!r} says it needs {command.needs}, yet {claims} run it"
    else:
        assert len(claims) == 1, f"{command.page}: {command.text!r} is run by no test (or by several: {claims})"


@pytest.mark.parametrize("pattern", [*RUN, *EQUIVALENT])
def test_every_claim_is_a_command_of_the_docs(pattern: str) -> None:
    assert any(re.search(pattern, command.text) for command in doc_commands()), f"{pattern!r} matches no command"


@pytest.mark.parametrize("test", sorted(set(RUN.values())))
def test_every_runner_exists(test: str) -> None:
    path, _, name = test.partition("::")
    assert f"def {name}(" in (ROOT / path).read_text(), f"{test} does not exist"
