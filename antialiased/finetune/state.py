"""The resumable state of a run, written atomically (beside, then renamed) at each epoch's end and every
`--save-every` steps: the model, optimizer, scheduler and scaler, where the run stands (epoch, step), the random
generators, and the settings it was started with (a run resumes only with the same ones)."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_FILE = "state.pt"


class ResumeError(ValueError):
    """A run folder holds a run of other settings; the message names them."""


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
    state = torch.load(path, map_location="cpu", weights_only=False)
    saved = state["settings"]
    differ = sorted(key for key in {*saved, *settings} if saved.get(key) != settings.get(key))
    if differ:
        changes = ", ".join(f"{key}: {saved.get(key)!r} -> {settings.get(key)!r}" for key in differ)
        raise ResumeError(
            f"{directory} holds a run of other settings ({changes}): resume it with its own settings, "
            "or choose another --out or --name, or pass --overwrite to discard it"
        )
    _set_rng_states(state["rng"])
    return state


def _rng_states() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
