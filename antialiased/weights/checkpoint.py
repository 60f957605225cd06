"""Checkpoint files: read any common layout into a plain state_dict, write the official layout.

The official layout is `{'state_dict': {...}}` without `module.` prefixes, in a file named by
torch.hub's convention `<name>-<first 8 hex digits of its sha256>.pth`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from antialiased.weights.errors import CheckpointFormatError

StateDict = dict[str, torch.Tensor]

# Prefixes that wrappers add to every key: DataParallel / DistributedDataParallel, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def strip_wrapper_prefixes(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """Remove `module.` / `_orig_mod.` when every key carries it (checkpoints of wrapped models)."""
    state = dict(state_dict)
    while state:
        prefix = next((p for p in _WRAPPER_PREFIXES if all(key.startswith(p) for key in state)), None)
        if prefix is None:
            break
        state = {key[len(prefix) :]: value for key, value in state.items()}
    return state


def safe_load(path: str | os.PathLike, kind: str = "checkpoint") -> Any:
    """What the PyTorch `kind` file at `path` holds, on the CPU, unpickled by torch's weights_only loader: tensors,
    plain containers and values only, never code; CheckpointFormatError (naming a refused object) otherwise."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointFormatError(f"{kind} {os.fspath(path)} does not exist") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise CheckpointFormatError(
            f"{os.fspath(path)} is not a readable PyTorch {kind} (truncated, another format, or objects that "
            f"weights_only loading refuses): {load_problem(exc)}"
        ) from None


def load_problem(exc: BaseException) -> str:
    """The line of torch's message that names the problem (its weights_only refusal is mostly boilerplate)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if re.search(r"unsupported global|Unsupported operand", line, re.IGNORECASE)]
    return " ".join((named or lines or [type(exc).__name__])[0].split())[:300]


def load_state_dict(path: str | os.PathLike) -> StateDict:
    """Read a checkpoint file into a plain state_dict, on the CPU, without running pickled code.

    Accepts the official `{'state_dict': ...}` layout, training checkpoints (`module.` prefixes and
    extra keys such as `optimizer`, `epoch`, `arch`, `best_acc1`) and bare state_dicts.
    """
    obj = safe_load(path)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointFormatError(f"{os.fspath(path)} holds neither a 'state_dict' entry nor a state_dict")
    not_tensors = sorted(str(key) for key, value in obj.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise CheckpointFormatError(
            f"{os.fspath(path)} holds no 'state_dict' entry and is not a bare state_dict "
            f"(non-tensor entries: {', '.join(not_tensors[:5])})"
        )
    return strip_wrapper_prefixes(obj)


def save_checkpoint(
    model_or_state_dict: nn.Module | Mapping[str, torch.Tensor], directory: str | os.PathLike, name: str
) -> Path:
    """Write weights in the official layout as `<directory>/<name>-<sha256[:8]>.pth` and return that path.

    Use it to publish your own fine-tuned checkpoint: the file name carries the hash prefix that
    `register` and `fetch` verify. The file appears atomically (written beside, then renamed).
    """
    state = model_or_state_dict.state_dict() if isinstance(model_or_state_dict, nn.Module) else model_or_state_dict
    state = {key: value.detach().cpu() for key, value in strip_wrapper_prefixes(state).items()}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save({"state_dict": state}, file)
        path = directory / f"{name}-{sha256_file(tmp)[:8]}.pth"
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
