"""The resumable state of a run, written atomically (beside, then renamed) at each epoch's end and every
`--save-every` steps: the model, optimizer, scheduler and scaler, where the run stands (epoch, step), the random
generators, and the settings it was started with (a run resumes only with the same ones).

The file holds tensors and plain values only (numpy's generator state is written as plain values), so it is read
back by torch's weights_only loader: a state file planted or damaged is refused, never unpickled into code."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from antialiased.weights.checkpoint import safe_load
from antialiased.weights.errors import CheckpointFormatError

STATE_FILE = "state.pt"
# What a state holds besides the training objects' own state_dicts, and the type of each.
_FIELDS = {"settings": dict, "model": dict, "optimizer": dict, "scheduler": dict, "scaler": dict, "epoch": int,
           "step_in_epoch": int, "step": int, "rng": dict}  # fmt: skip
_NOTHING_RUN = "nothing in it was run: remove it, or pass --overwrite to start the run afresh"


class ResumeError(ValueError):
    """A run folder holds a run of other settings (the message names them), or a state file that is not one."""


def save_state(directory: Path, state: dict[str, Any]) -> Path:
    """Write `state` (plus the random generators' states) as `directory/state.pt`, atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{STATE_FILE}-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save({**state, "rng": _rng_states()}, file)
        os.replace(tmp, directory / STATE_FILE)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return directory / STATE_FILE


def load_state(directory: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state of the run in `directory` (its random generators restored), or None when there is none;
    ResumeError when it was started with other `settings`."""
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    state = _read(path)
    saved = state["settings"]
    differ = sorted(key for key in {*saved, *settings} if saved.get(key) != settings.get(key))
    if differ:
        changes = ", ".join(f"{key}: {saved.get(key)!r} -> {settings.get(key)!r}" for key in differ)
        raise ResumeError(
            f"{directory} holds a run of other settings ({changes}): resume it with its own settings, "
            "or choose another --out or --name, or pass --overwrite to discard it"
        )
    try:
        _set_rng_states(state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise not_a_state(path, f"its random generators' states are unusable ({error!r})") from None
    return state


def _read(path: Path) -> dict[str, Any]:
    """The state in `path`, loaded without unpickling code and checked to have the fields a state has."""
    try:
        state = safe_load(path, "resume state")
    except CheckpointFormatError as error:
        raise ResumeError(f"{error}; {_NOTHING_RUN}") from None
    if not isinstance(state, dict):
        raise not_a_state(path, f"it holds a {type(state).__name__}, not a state")
    wrong = [key for key, kind in _FIELDS.items() if not isinstance(state.get(key), kind)]
    if wrong:
        raise not_a_state(path, f"missing or mistyped fields: {', '.join(wrong)}")
    return state


def not_a_state(path: Path, reason: str) -> ResumeError:
    """The refusal of the file at `path` as resume state, for `reason`."""
    return ResumeError(f"{path} is not a fine-tuning resume state ({reason}); {_NOTHING_RUN}")


def _rng_states() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": _plain(np.random.get_state(legacy=False)),
        "python": random.getstate(),
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    numpy = states["numpy"]
    np.random.set_state({**numpy, "state": {**numpy["state"], "key": np.array(numpy["state"]["key"], np.uint32)}})
    random.setstate(states["python"])


def _plain(numpy_state: dict[str, Any]) -> dict[str, Any]:
    """numpy's generator state with its key array as a list of ints (weights_only loading refuses numpy arrays)."""
    return {**numpy_state, "state": {**numpy_state["state"], "key": numpy_state["state"]["key"].tolist()}}
