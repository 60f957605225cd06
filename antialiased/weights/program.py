"""Exported programs (`.pt2`, written by `torch.export.save`): read without running code from the file, and checked
to be an image classifier with a dynamic batch.

`torch.export.load` alone is not safe on a file one did not write: it unpickles tensors stored as pickles, evaluates
the program's symbolic-shape expressions with sympy and `exec`s its guard code, and loads compiled (AOTInductor)
libraries. So before torch reads it, `check_program_file` reads the archive itself (with torch's own zip reader) and
refuses anything but what `torch.export.save` writes for a plain program: members stored uncompressed, tensors as raw
bytes, sample inputs that load with `weights_only`, operators of PyTorch (`aten`) only, and shape expressions and
guards made of arithmetic on sizes. Every refusal is a `ProgramFormatError` naming the file and the problem.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.export import ExportedProgram
from torch.export.pt2_archive._package import PT2ArchiveReader
from torch.export.pt2_archive.constants import (
    ARCHIVE_FORMAT_PATH,
    ARCHIVE_FORMAT_VALUE,
    CONSTANTS_CONFIG_FILENAME_FORMAT,
    MODELS_DIR,
    SAMPLE_INPUTS_FILENAME_FORMAT,
    TENSOR_CONSTANT_FILENAME_PREFIX,
    WEIGHT_FILENAME_PREFIX,
    WEIGHTS_CONFIG_FILENAME_FORMAT,
)

from antialiased.weights.errors import ProgramFormatError

PROGRAM_SUFFIX = ".pt2"
MAX_PROGRAM_JSON_BYTES = 256 * 1024 * 1024
# What torch.export.save writes for one program, relative to the archive's root folder.
_ALLOWED_MEMBERS = re.compile(
    r"(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"
    r"|models/\w+\.json|data/weights/\w+(\.json)?|data/constants/\w+\.json|data/constants/tensor_\w+"
    r"|data/sample_inputs/\w+\.pt|extra/[\w.-]+)"
)
# Graph node targets: aten operators, and the arithmetic of sizes (no `operator.attrgetter`, `operator.call`, ...).
_OPERATOR = re.compile(
    r"torch\.ops\.aten\.\w+\.\w+"
    r"|_operator\.(getitem|add|sub|mul|floordiv|truediv|mod|pow|neg|pos|abs|eq|ne|lt|le|gt|ge|and_|or_|not_)"
    r"|torch\.sym_(min|max|not|float|int|ite|sqrt|sum)|math\.(floor|ceil|trunc|sqrt)"
)
_OUTSIDE_EFFECTS = re.compile(r"torch\.ops\.aten\.(from_file|_print)\.\w+")  # aten's that read files or print
# sympy's constructors in the program's shape expressions (torch.utils._sympy.functions and sympy's own).
_SYMPY_CALLS = frozenset(
    {
        *("Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Pow", "Max", "Min", "Abs", "Mod", "PythonMod"),
        *("FloorDiv", "CeilDiv", "CleanDiv", "ModularIndexing", "Where", "CeilToInt", "FloorToInt", "TruncToInt"),
        *("RoundToInt", "IntTrueDiv", "FloatTrueDiv", "ToFloat", "Identity", "LShift", "RShift", "Eq", "Ne", "Lt"),
        *("Le", "Gt", "Ge", "Equality", "Unequality", "StrictLessThan", "LessThan", "StrictGreaterThan"),
        *("GreaterThan", "And", "Or", "Not"),
    }
)
_GUARD_CALLS = frozenset({"sym_min", "sym_max", "sym_not", "sym_float", "sym_int", "sym_ite", "sym_sqrt"})
_SIZE_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel"})
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Not)
_GUARD_NODES = (ast.Expression, ast.Load, ast.BoolOp, ast.Compare, ast.BinOp, ast.UnaryOp, ast.Subscript)
_LOGIC = (ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def check_program_file(path: str | os.PathLike) -> None:
    """ProgramFormatError unless `path` holds one program as `torch.export.save` writes it (see the module
    docstring): checked without unpickling, evaluating or executing anything from the file."""
    path = Path(path)
    try:
        _check_members(path)
        with PT2ArchiveReader(str(path)) as archive:
            names = archive.get_file_names()
            if archive.read_string(ARCHIVE_FORMAT_PATH) != ARCHIVE_FORMAT_VALUE:
                raise ProgramFormatError("its archive format is not pt2")
            models = [name for name in names if name.startswith(MODELS_DIR)]
            if len(models) != 1:
                raise ProgramFormatError(f"it holds {len(models)} programs, not one")
            model = models[0][len(MODELS_DIR) : -len(".json")]
            _check_payloads(archive, WEIGHTS_CONFIG_FILENAME_FORMAT.format(model), WEIGHT_FILENAME_PREFIX)
            _check_payloads(archive, CONSTANTS_CONFIG_FILENAME_FORMAT.format(model), TENSOR_CONSTANT_FILENAME_PREFIX)
            _check_sample_inputs(archive.read_bytes(SAMPLE_INPUTS_FILENAME_FORMAT.format(model)))
            _check_program(archive.read_bytes(models[0]))
    except ProgramFormatError as error:
        raise ProgramFormatError(f"{path} is refused: {error}") from None
    except (OSError, RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as error:  # not a zip, a member missing
        reason = " ".join(str(error).split())[:200]
        raise ProgramFormatError(f"{path} is not a program written by torch.export.save (.pt2): {reason}") from None


def _check_members(path: Path) -> None:
    """One root folder, no member twice, nothing compressed (torch stores members as they are: no zip bomb), and
    only the members a plain program has (no compiled AOTInductor library, no legacy pickled weights)."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    names = [member.filename for member in members]
    roots = {name.split("/", 1)[0] for name in names}
    if len(roots) != 1 or any("/" not in name for name in names):
        raise ProgramFormatError("its members are not under one root folder")
    if len(set(names)) != len(names):
        raise ProgramFormatError("a member is stored twice")
    if any(name.endswith("/data.pkl") for name in names):
        raise ProgramFormatError(
            "it is a checkpoint written by torch.save, not an exported program: export the model with "
            "python -m antialiased.export"
        )
    for member in members:
        relative = member.filename.split("/", 1)[1]
        if member.compress_type != zipfile.ZIP_STORED:
            raise ProgramFormatError(f"member {relative} is compressed (torch.export.save stores members as they are)")
        if not _ALLOWED_MEMBERS.fullmatch(relative):
            raise ProgramFormatError(f"member {relative} is not part of a plain exported program (no compiled code, "
                                     "no pickles)")  # fmt: skip


def _check_payloads(archive: PT2ArchiveReader, config_file: str, prefix: str) -> None:
    """Every weight or constant stored as raw bytes (a pickled one would be unpickled with weights_only=False)."""
    config = json.loads(archive.read_string(config_file))
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise ProgramFormatError(f"{config_file} is not a payload configuration")
    for name, payload in entries.items():
        if not isinstance(payload, dict) or payload.get("use_pickle") is not False:
            raise ProgramFormatError(f"tensor {name!r} is stored as a pickle, which loading would run")
        if not str(payload.get("path_name", "")).startswith(prefix):
            raise ProgramFormatError(f"{name!r} is not a tensor (custom objects are pickles)")


def _check_sample_inputs(data: bytes) -> None:
    """Sample inputs that load with weights_only (torch falls back to full unpickling when they do not)."""
    try:
        torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # any failure here would make torch unpickle them without restriction
        raise ProgramFormatError(f"its sample inputs do not load as plain tensors: {str(error)[:120]}") from None


def _check_program(data: bytes) -> None:
    """Operators of PyTorch only, and shape expressions and guards that are arithmetic on sizes."""
    if len(data) > MAX_PROGRAM_JSON_BYTES:
        raise ProgramFormatError(f"its graph is larger than {MAX_PROGRAM_JSON_BYTES} bytes")
    try:
        program = json.loads(data)
    except (ValueError, RecursionError):
        raise ProgramFormatError("its graph is not readable JSON") from None
    graph = program.get("graph_module", {}).get("graph", {}) if isinstance(program, dict) else None
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        raise ProgramFormatError("it holds no graph")
    if graph.get("custom_obj_values"):
        raise ProgramFormatError("its graph holds custom objects (pickles)")
    for node in graph["nodes"]:
        target = node.get("target") if isinstance(node, dict) else None
        if not isinstance(target, str) or not _OPERATOR.fullmatch(target):
            raise ProgramFormatError(f"its graph calls {str(target)[:80]!r}, not a PyTorch (aten) operator")
        if _OUTSIDE_EFFECTS.fullmatch(target):
            raise ProgramFormatError(f"its graph calls {target}, which reaches outside the model (files, output)")
    for expression in _values_of(program, "expr_str"):
        _check_expression(expression, _sympy_node, "shape expression")
    for guard in program.get("guards_code") or []:
        _check_expression(guard, _guard_node, "guard")


def _values_of(tree: Any, key: str) -> Iterator[Any]:
    """Every value of `key` in a parsed JSON tree (iteratively: the tree's depth is the file's choice)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if key in item:
                yield item[key]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_expression(text: Any, allowed: Any, what: str) -> None:
    if not isinstance(text, str) or len(text) > 100_000:
        raise ProgramFormatError(f"a {what} is not a short string")
    try:
        tree = ast.parse(text, mode="eval")
        nodes = list(ast.walk(tree))
    except (SyntaxError, RecursionError, ValueError):
        raise ProgramFormatError(f"a {what} is not an expression: {text[:80]!r}") from None
    for node in nodes:
        if not allowed(node):
            part = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            raise ProgramFormatError(f"a {what} holds {part[:80]!r}, not arithmetic on sizes: {text[:120]!r}")


def _sympy_node(node: ast.AST) -> bool:
    """A sympy constructor called with numbers, symbol names and keyword flags."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _SYMPY_CALLS
    if isinstance(node, ast.Name):
        return node.id in _SYMPY_CALLS or node.id in ("true", "false", "oo", "zoo", "nan")
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float | bool) or (
            isinstance(node.value, str) and re.fullmatch(r"[A-Za-z_]\w{0,40}", node.value) is not None
        )
    return isinstance(node, ast.Expression | ast.keyword | ast.Load | ast.UnaryOp | ast.USub)


def _guard_node(node: ast.AST) -> bool:
    """Comparisons and arithmetic of the inputs' sizes (`L['x'].size()[2]`), torch.sym_* and math functions."""
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Attribute):
            return False
        owner = func.value
        if isinstance(owner, ast.Name):
            return (owner.id, func.attr in _GUARD_CALLS) == ("torch", True) or (
                owner.id == "math" and func.attr in ("floor", "ceil", "trunc", "sqrt")
            )
        return func.attr in _SIZE_METHODS and not node.args and not node.keywords
    if isinstance(node, ast.Attribute):  # only as the function of a call checked above
        return isinstance(node.value, ast.Name | ast.Subscript)
    if isinstance(node, ast.Name):
        return node.id in ("L", "torch", "math", "inf")
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float | bool | str)
    return isinstance(node, _GUARD_NODES + _ARITHMETIC + _LOGIC)


def load_program(path: str | os.PathLike) -> ExportedProgram:
    """The program in `path`, after `check_program_file`; ProgramFormatError if it is not one."""
    check_program_file(path)
    try:
        return torch.export.load(os.fspath(path))
    except Exception as error:  # torch's deserializer raises many kinds (an op it does not know, a version)
        reason = " ".join(str(error).split())[:200]
        raise ProgramFormatError(f"{os.fspath(path)} cannot be loaded by this PyTorch: {reason}") from None


def program_classes(program: ExportedProgram, where: str) -> int:
    """How many classes the classifier `program` outputs; ProgramFormatError unless it takes one image batch
    (N, 3, H, W) with a dynamic N and answers one (N, classes) tensor."""
    signature = program.graph_signature
    values = {node.name: node.meta.get("val") for node in program.graph.nodes}
    if len(signature.user_inputs) != 1:
        raise ProgramFormatError(f"{where} takes {len(signature.user_inputs)} inputs, not one image batch")
    image = values.get(signature.user_inputs[0])
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = list(image.shape) if isinstance(image, torch.Tensor) else image
        raise ProgramFormatError(f"{where} takes {shape}, not an image batch (N, 3, H, W)")
    batch = image.shape[0]
    if not isinstance(batch, torch.SymInt):
        raise ProgramFormatError(
            f"{where} was exported for a fixed batch size of {batch}: export it with a dynamic batch dimension "
            "(dynamic_shapes={0: torch.export.Dim.AUTO}), as python -m antialiased.export does"
        )
    outputs = [values.get(name) for name in signature.user_outputs]
    if len(outputs) != 1 or not isinstance(outputs[0], torch.Tensor) or outputs[0].dim() != 2:
        shapes = [list(o.shape) if isinstance(o, torch.Tensor) else o for o in outputs]
        raise ProgramFormatError(f"{where} answers {shapes}, not one (batch, classes) tensor")
    rows, classes = outputs[0].shape
    if str(rows) != str(batch) or not isinstance(classes, int):
        raise ProgramFormatError(f"{where} answers {list(outputs[0].shape)}, not ({batch}, classes)")
    return classes


class ExportedClassifier(nn.Module):
    """An exported program as a module: it computes as it was exported (evaluation behaviour) in either mode, so
    that code written for modules (`.eval()`, `.to(device)`, deepcopy) takes it; its graph holds no layers to fold."""

    def __init__(self, program: nn.Module) -> None:
        super().__init__()
        self.program = program

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.program(x)

    def train(self, mode: bool = True) -> ExportedClassifier:
        self.training = mode  # the program's own module refuses train() and eval()
        return self


def program_module(path: str | os.PathLike) -> tuple[ExportedClassifier, int]:
    """The checked program in `path` as a module, and its class count."""
    program = load_program(path)
    return ExportedClassifier(program.module()), program_classes(program, os.fspath(path))
