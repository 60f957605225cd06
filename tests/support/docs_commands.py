r"""The commands the docs show: each command of a ```bash block of the README and docs/ (lines continued with `\`
joined, comments dropped) and each ```python block, with what it needs where the docs say so: a comment
`# needs a GPU`, `# needs the internet` or `# needs Triton` (or two of them: `# needs Triton and a GPU`) on its line,
or on a block's first line for the whole block."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NEEDS = re.compile(r"#.*\bneeds ((?:a GPU|the internet|Triton)(?: and (?:a GPU|the internet|Triton))?)")
_COMMENT = re.compile(r"\s+#\s.*$|^#.*$")

RUNNER = "tests/docs/test_serving_commands.py"
EXAMPLES = "tests/docs/test_target_examples.py"
FINETUNE = "tests/docs/test_finetune_commands.py"
ANTIALIAS = "tests/docs/test_antialias_example.py"
SEQUENCES = "tests/antialiased/evaluate/test_sequences.py"
EXPORT = "tests/docs/test_export_commands.py"
VIDEOS = "tests/antialiased/evaluate/test_video_sequences.py"
# Pattern of a command -> the test that runs the docs' text of it (URLs and file names put in).
RUN = {
    r"^curl .*127\.0\.0\.1:8080/predictions/resnet50_lpf4 (?!.*Authorization)": f"{RUNNER}::test_the_classify_commands",
    r"^curl .*127\.0\.0\.1:8000/v1/\w+\?models?=resnet50_lpf4(&|,resnet50&)": f"{RUNNER}::test_the_probe_commands",
    r"^curl .*127\.0\.0\.1:8000/v2/": f"{RUNNER}::test_the_open_inference_protocol_command",
    r"^curl .*-F frame=.*127\.0\.0\.1:8000/v1/sequence\?": f"{RUNNER}::test_the_sequence_command",
    r"^curl .*-F video=.*127\.0\.0\.1:8000/v1/sequence\?": f"{RUNNER}::test_the_video_sequence_command",
    r"-m antialiased\.weights list$": f"{RUNNER}::test_the_weights_list_command",
    r"-m antialiased\.evaluate --data path/to/val --model my\.pth": f"{RUNNER}::test_the_evaluate_command",
    r"-m antialiased\.evaluate --sequences path/to/sequences ": f"{SEQUENCES}::test_the_docs_sequence_command",
    r"-m antialiased\.sequences make --data path/to/images|--sequences build/sequences ": f"{VIDEOS}::"
    "test_the_docs_make_commands",
    r"^import numpy as np\nimport tritonclient": f"{EXAMPLES}::test_the_tritonclient_example_runs",
    r"^import torch\nfrom torchvision\.models import resnet50\n": f"{ANTIALIAS}::test_the_example_runs",
    r"-m antialiased\.finetune --model resnet18 --weights baseline\.pth": f"{FINETUNE}::test_the_finetune_commands",
    r"^ANTIALIASED_WEIGHTS_REGISTRY=.* make run ARGS=\"--model mine=": f"{FINETUNE}::test_the_result_served_by_name",
    r"-m antialiased\.export --model timm:resnet10t --weights mine\.pth": f"{EXPORT}::test_the_export_command",
    r"-m antialiased\.export --model resnet18 --filter-size 4 --weights my_resnet18_lpf4\.pth --format (onnx|triton)": (
        f"{EXPORT}::test_the_onnx_and_triton_export_commands"
    ),
}
# Pattern of a command -> where it runs in an equivalent form, and how that differs.
EQUIVALENT = {
    r"^make run$": "tests/scripts/test_run_script.py runs scripts.run, what `make run` runs after the set-up",
    r"^make test$": ".ci/run runs it: it is the test command",
    r"^PROBE_TARGETS=.* make run$|models=resnet50_lpf4,my_kserve": f"{EXAMPLES} probes the docs' PROBE_TARGETS "
    "examples on a real stock TorchServe and a real KServe server through the probe service",
    r"-m antialiased\.finetune --model torchvision:resnet18 --weights baseline\.pth --num-classes 3 --data colours ": (
        "tests/scripts/test_own_classes_end_to_end.py runs it (one epoch, 6 images) on generated colour folders, then "
        "serves, probes and evaluates the result by name"
    ),
    r"make run ARGS=\"--model own=mine\"$": "tests/handlers/test_exported_models.py serves exported programs by their "
    "registry entries through TorchServe, tests/scripts/test_own_classes_end_to_end.py through scripts.run",
}


@dataclass(frozen=True)
class DocCommand:
    """One command as the docs show it: its page (relative to the project root), its text, what it needs."""

    page: str
    text: str
    needs: str | None = None


def code_blocks(page: str, language: str) -> list[str]:
    """The `language` code blocks of the docs page `page` (a file name in docs/)."""
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / "docs" / page).read_text(), flags=re.DOTALL)


def doc_commands() -> list[DocCommand]:
    """Every command of every page, in order."""
    return [command for page in PAGES for command in _page_commands(page)]


def commands_matching(pattern: str) -> list[DocCommand]:
    """The commands that `pattern` (a regular expression) finds in the docs; at least one, else the docs changed."""
    found = [command for command in doc_commands() if re.search(pattern, command.text)]
    assert found, f"no command of the docs matches {pattern!r}"
    return found


def _page_commands(page: Path) -> list[DocCommand]:
    name = str(page.relative_to(ROOT))
    commands = []
    for language, body in _BLOCK.findall(page.read_text()):
        block_needs = _needs(body.splitlines()[0]) if body.startswith("#") else None
        if language == "python":
            commands.append(DocCommand(name, body.strip(), block_needs or _needs(body)))
            continue
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            text = _COMMENT.sub("", line).strip()
            if text:
                commands.append(DocCommand(name, text, block_needs or _needs(line)))
    return commands


def _needs(text: str) -> str | None:
    match = _NEEDS.search(text)
    return match.group(1) if match else None
