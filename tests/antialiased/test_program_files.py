"""`.pt2` files checked before torch reads them (antialiased/weights/program.py): what `torch.export.save` writes
for the exported SmallCnn passes; every hostile or wrong variant is refused with a message naming the problem, and
a payload that `torch.export.load` would run (a guard, a pickle) never runs."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from antialiased.weights import ProgramFormatError
from antialiased.weights.program import check_program_file, load_program, program_classes, program_module
from tests.support.programs import (
    CONSTANTS_CONFIG,
    MODEL_JSON,
    SAMPLE_INPUTS,
    WEIGHTS_CONFIG,
    Features,
    Pair,
    PooledClassifier,
    edited_json,
    export_small,
    marker_guard,
    program_file,
    rewritten,
    saved_program,
)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return program_file(export_small(tmp_path_factory.mktemp("program"))[1], "small")


def test_an_exported_program_passes(program: Path) -> None:
    check_program_file(program)
    module, classes = program_module(program)
    assert classes == 3 and tuple(module(torch.zeros(2, 3, 64, 64)).shape) == (2, 3)


class _Payload:
    """Unpickling it runs a shell command (what a hostile pickle does)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _first_node(field: str, value):
    def edit(document: dict) -> None:
        document["graph_module"]["graph"]["nodes"][0][field] = value

    return edited_json(MODEL_JSON, edit)


def _first_payload(member: str, **changes):
    def edit(document: dict) -> None:
        next(iter(document["config"].values())).update(changes)

    return edited_json(member, edit)


def _custom_object(document: dict) -> None:
    document["config"]["obj"] = {"path_name": "custom_obj_0", "use_pickle": False, "is_param": False}


def _size_expression(marker: Path):
    def edit(document: dict) -> None:
        sizes = document["graph_module"]["graph"]["tensor_values"]["x"]["sizes"]
        sizes[0]["as_expr"]["expr_str"] = f"__import__('os').system('touch {marker}')"

    return edited_json(MODEL_JSON, edit)


def _pickled_inputs(marker: Path) -> bytes:
    buffer = io.BytesIO()
    torch.save(((_Payload(f"touch {marker}"),), {}), buffer)
    return buffer.getvalue()


CASES = {
    "a guard that runs a command": (lambda m: {"change": marker_guard(m)}, "a guard holds"),
    "a shape expression that runs a command": (lambda m: {"change": _size_expression(m)}, "a shape expression holds"),
    "sample inputs that unpickle a command": (
        lambda m: {"change": lambda name, data: _pickled_inputs(m) if name == SAMPLE_INPUTS else data},
        "sample inputs do not load as plain tensors",
    ),
    "an operator outside PyTorch's": (
        lambda m: {"change": _first_node("target", "torch.os.system")},
        "'torch.os.system', not a PyTorch (aten) operator",
    ),
    "an operator that reaches Python objects": (
        lambda m: {"change": _first_node("target", "_operator.attrgetter")},
        "'_operator.attrgetter', not a PyTorch (aten) operator",
    ),
    "an operator that reads a file": (
        lambda m: {"change": _first_node("target", "torch.ops.aten.from_file.default")},
        "calls torch.ops.aten.from_file.default, which reaches outside the model",
    ),
    "a weight stored as a pickle": (
        lambda m: {"change": _first_payload(WEIGHTS_CONFIG, use_pickle=True)},
        "stored as a pickle",
    ),
    "a custom object (a pickle)": (
        lambda m: {"change": edited_json(CONSTANTS_CONFIG, _custom_object)},
        "'obj' is not a tensor",
    ),
    "a compiled library": (lambda m: {"add": {"data/aotinductor/model/model.so": b"\x7fELF"}}, "data/aotinductor"),
    "legacy pickled weights": (lambda m: {"add": {"data/weights/model.pt": b"x"}}, "data/weights/model.pt"),
    "compressed members": (lambda m: {"compress": True}, "is compressed"),
    "a member stored twice": (lambda m: {"add": {"archive_format": b"pt2"}}, "stored twice"),
    "no program": (lambda m: {"change": lambda name, data: None if name == MODEL_JSON else data}, "0 programs"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")  # the member stored twice, on purpose
@pytest.mark.parametrize("case", CASES)
def test_hostile_programs_are_refused_and_nothing_runs(program: Path, tmp_path: Path, case: str) -> None:
    marker = tmp_path / "ran"
    options, expected = CASES[case]
    hostile = rewritten(program, tmp_path / "hostile.pt2", **options(marker))
    with pytest.raises(ProgramFormatError, match="is refused") as refused:
        load_program(hostile)
    assert expected in str(refused.value) and str(hostile) in str(refused.value)
    assert not marker.exists()


def test_torch_export_load_alone_would_run_the_guard(program: Path, tmp_path: Path) -> None:
    """Why the check exists: the same file, given to torch as it is, runs the command of its guard."""
    marker = tmp_path / "ran"
    hostile = rewritten(program, tmp_path / "hostile.pt2", marker_guard(marker))
    torch.export.load(hostile).module()(torch.zeros(2, 3, 64, 64))
    assert marker.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"not a zip at all", "not a program written by torch.export.save"), (None, "not a program written")],
)
def test_files_that_are_not_programs(program: Path, tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "other.pt2"
    path.write_bytes(content if content is not None else program.read_bytes()[: program.stat().st_size // 2])
    with pytest.raises(ProgramFormatError, match=expected):
        load_program(path)


def test_a_checkpoint_is_not_a_program(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt2"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(ProgramFormatError, match=r"a checkpoint written by torch\.save, not an exported program"):
        load_program(path)


@pytest.mark.parametrize(
    ("module", "dynamic", "channels", "expected"),
    [
        (PooledClassifier(), False, 3, "exported for a fixed batch size of 2: export it with a dynamic batch"),
        (Features(), True, 3, "not one (batch, classes) tensor"),
        (Pair(), True, 3, "not one (batch, classes) tensor"),
        (nn.Flatten(), True, 5, "not an image batch (N, 3, H, W)"),
    ],
)
def test_programs_that_are_not_batch_classifiers(
    tmp_path: Path, module: nn.Module, dynamic: bool, channels: int, expected: str
) -> None:
    program = load_program(saved_program(module, tmp_path / "program.pt2", dynamic, channels))
    with pytest.raises(ProgramFormatError) as refused:
        program_classes(program, "mine.pt2")
    assert str(refused.value).startswith("mine.pt2 ") and expected in str(refused.value)


def test_a_batch_classifier_tells_its_classes(tmp_path: Path) -> None:
    assert program_classes(load_program(saved_program(PooledClassifier(), tmp_path / "program.pt2")), "mine") == 4


def test_the_payload_helper_really_runs_its_command(tmp_path: Path) -> None:
    """The hostile pickles above are real: unpickled without restriction, they run their command."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(f"touch {marker}")))
    assert marker.exists()
    assert json.loads(json.dumps({"ok": True}))
