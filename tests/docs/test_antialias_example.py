"""docs/antialias.md as the code is: its example runs as shown, and the signature it shows is `antialias`'s."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from pathlib import Path

from antialiased import antialias

PAGE = Path(__file__).resolve().parents[2] / "docs" / "antialias.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)


def test_the_example_runs() -> None:
    (code,) = _blocks("python")
    printed = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(PAGE), "exec"), namespace)
    lines = printed.getvalue().splitlines()
    assert lines[0] == "7 of 8 strided layers antialiased"
    assert lines[1].startswith("conv1: Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2)")
    assert lines[1].endswith(
        "→ left as it is: pool_only (a strided convolution of the stem, before the first strided pool)"
    )
    assert namespace["logits"].shape == (1, 1000)


def test_the_signature_shown_is_the_functions() -> None:
    (shown,) = _blocks("")
    parameters = []
    for parameter in inspect.signature(antialias).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parameters:
            parameters.append("*")
        default = parameter.default
        text = f'"{default}"' if isinstance(default, str) else repr(default)
        parameters.append(parameter.name if default is parameter.empty else f"{parameter.name}={text}")
    assert " ".join(shown.split()) == f"antialias({', '.join(parameters)}) -> Antialiased(model, report)"
