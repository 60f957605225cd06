"""Checks made before anything is sent to TorchServe: known models, a feasible plan, a valid image header.

The image is not decoded here (TorchServe decodes it, once): its header must declare an accepted format and
size, and TorchServe refuses data that turns out to be corrupt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageInfo, inspect_image
from antialiased.protocols import ShiftPlan, make_plan
from service.params import ProbeParams
from service.settings import Settings


def check_known(models: Iterable[str], known: Sequence[str], what: str, status: int = 400) -> None:
    """Every name must be one of `known` (`what` they are, for the message); else ApiError unknown_model."""
    unknown = [name for name in models if name not in known]
    if unknown:
        raise ApiError(
            ErrorCode.UNKNOWN_MODEL, f"unknown model {', '.join(unknown)}; {what}: {', '.join(known)}", status
        )


def check_models(models: Iterable[str], settings: Settings) -> None:
    """Every name must be a probe target (PROBE_MODELS or PROBE_TARGETS)."""
    check_known(models, settings.target_names, "targets")


def plan_for(params: ProbeParams, settings: Settings) -> ShiftPlan:
    """The plan the parameters ask for, within the service's limits."""
    if params.topk > settings.max_topk:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"topk {params.topk} exceeds the limit of {settings.max_topk}")
    return make_plan(params, settings.max_offsets)


def check_image(image: bytes, settings: Settings) -> ImageInfo:
    """The image's header facts within the service's limits; a bad header is a 4xx here."""
    return inspect_image(image, settings.image)


def compared_models(models: list[str] | None, settings: Settings, targets: Iterable[str]) -> list[str]:
    """The targets a comparison names (default: all of them), at most PROBE_MAX_COMPARE_MODELS."""
    names = list(dict.fromkeys(models or targets))
    if len(names) > settings.max_compare_models:
        raise ApiError(
            ErrorCode.TOO_MANY_MODELS, f"{len(names)} models exceed the limit of {settings.max_compare_models}"
        )
    return names
