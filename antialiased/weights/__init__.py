"""Weights as data: the registry of published checkpoints, a verified cached fetcher, and loaders.

    from antialiased.weights import load_pretrained
    model = load_pretrained("resnet50_lpf4_finetune")  # downloads once into ~/.cache/antialiased

The paper's official weights are licensed CC BY-NC-SA 4.0 (non-commercial use only).
"""

from antialiased.weights.checkpoint import load_state_dict, save_checkpoint, sha256_file, strip_wrapper_prefixes
from antialiased.weights.errors import (
    ArchitectureMismatchError,
    CheckpointFormatError,
    HashMismatchError,
    ProgramFormatError,
    RegistryError,
    UnknownWeightsError,
    WeightsError,
    WeightsUnavailableError,
)
from antialiased.weights.fetch import CACHE_ENV, MIRROR_ENV, download_url, fetch, resolve_cache_dir, verify_file
from antialiased.weights.load import build_model, load_entry_weights, load_pretrained, load_weights
from antialiased.weights.registry import (
    OFFICIAL_LICENSE,
    REGISTRY_ENV,
    WeightsEntry,
    get_entry,
    list_entries,
    register,
    unregister,
)

__all__ = [
    "CACHE_ENV",
    "MIRROR_ENV",
    "OFFICIAL_LICENSE",
    "REGISTRY_ENV",
    "ArchitectureMismatchError",
    "CheckpointFormatError",
    "HashMismatchError",
    "ProgramFormatError",
    "RegistryError",
    "UnknownWeightsError",
    "WeightsEntry",
    "WeightsError",
    "WeightsUnavailableError",
    "build_model",
    "download_url",
    "fetch",
    "get_entry",
    "list_entries",
    "load_entry_weights",
    "load_pretrained",
    "load_state_dict",
    "load_weights",
    "register",
    "resolve_cache_dir",
    "save_checkpoint",
    "sha256_file",
    "strip_wrapper_prefixes",
    "unregister",
    "verify_file",
]
