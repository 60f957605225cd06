"""Put checkpoints into models: strict loading with errors that name the keys, and pretrained models by name."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from antialiased.labels import NUM_CLASSES
from antialiased.models import create_baseline, create_model
from antialiased.models.zoo import rename_checkpoint_keys
from antialiased.weights.checkpoint import load_state_dict, strip_wrapper_prefixes
from antialiased.weights.errors import ArchitectureMismatchError, ProgramFormatError
from antialiased.weights.fetch import fetch
from antialiased.weights.program import program_module
from antialiased.weights.registry import WeightsEntry, get_entry

_SHOWN = 3  # keys quoted per kind of mismatch; the counts tell the rest


def _some(keys: list[str]) -> str:
    more = f", … ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def load_weights(
    model: nn.Module, weights: str | os.PathLike | Mapping[str, torch.Tensor], arch: str | None = None
) -> nn.Module:
    """Load a checkpoint file or state_dict into `model` strictly and return the model.

    `arch` names the zoo architecture the weights were written for, so that its family's key hook runs first
    (DenseNets: legacy keys such as `norm.1`, as in the published DenseNet files); None, or a model outside
    the zoo, loads the keys as they are. Raises `ArchitectureMismatchError` naming missing, unexpected and
    wrongly shaped keys, with counts, when the weights were made for another architecture or filter size.
    """
    state = load_state_dict(weights) if isinstance(weights, str | os.PathLike) else strip_wrapper_prefixes(weights)
    state = rename_checkpoint_keys(arch, state)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [
        f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        for key in expected
        if key in state and state[key].shape != expected[key].shape
    ]
    if missing or unexpected or reshaped:
        source = os.fspath(weights) if isinstance(weights, str | os.PathLike) else "the state_dict"
        problems = [
            f"{len(keys)} {kind}: {_some(keys)}"
            for kind, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
            if keys
        ]
        raise ArchitectureMismatchError(
            f"{source} does not fit {type(model).__name__} ({len(expected)} keys); keys " + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True)
    return model


def build_model(entry: WeightsEntry) -> nn.Module:
    """The randomly initialised model that `entry`'s checkpoint fits (a zoo architecture with the entry's classes)."""
    if entry.format == "pt2":
        raise ProgramFormatError(f"{entry.name} is an exported program (.pt2): it is loaded, not built from code")
    classes = {} if entry.classes == NUM_CLASSES else {"num_classes": entry.classes}
    if entry.antialiased:
        return create_model(entry.arch, entry.filter_size, **classes)
    return create_baseline(entry.arch, **classes)


def load_entry_weights(entry: WeightsEntry, weights: str | os.PathLike | Mapping[str, torch.Tensor]) -> nn.Module:
    """The model of registry entry `entry` holding `weights` (loaded strictly, with its architecture's key hook);
    for an exported program, the checked program itself (its class count must be the entry's)."""
    if entry.format == "pt2":
        if not isinstance(weights, str | os.PathLike):
            raise ProgramFormatError(f"{entry.name} is an exported program: give its .pt2 file, not a state_dict")
        module, classes = program_module(weights)
        if classes != entry.classes:
            path = os.fspath(weights)
            raise ProgramFormatError(f"{path} outputs {classes} classes, {entry.name} names {entry.classes}")
        return module
    return load_weights(build_model(entry), weights, arch=entry.arch)


def load_pretrained(name: str, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> nn.Module:
    """Build the model of registry entry `name` and load its verified weights (fetched unless cached)."""
    entry = get_entry(name)
    path = fetch(name, cache_dir=cache_dir, progress=progress)
    try:
        return load_entry_weights(entry, path)
    except ArchitectureMismatchError as exc:
        raise ArchitectureMismatchError(
            f"{name} is registered as {entry.arch} with filter_size {entry.filter_size}, but {exc}"
        ) from None
