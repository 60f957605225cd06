"""The handler's settings: the `handler:` section of the archive's model-config.yaml, parsed strictly."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

import torch
from pydantic import BaseModel

from antialiased.imagefile import ImageLimits
from antialiased.inference import PRECISIONS
from antialiased.labels import NUM_CLASSES
from antialiased.preprocessing import CROP_SIZE
from antialiased.serving.contract import WeightsInfo
from antialiased.shifts import MAX_IMAGE_SIDE, MIN_CROP_SIZE
from antialiased.weights.registry import FORMATS

DEVICES = ("auto", "cpu", "cuda")
# What computes the forward pass: PyTorch (the prepared model), or the model exported to ONNX, proven equal at load,
# on ONNX Runtime or OpenVINO (the CPU only; they need requirements-export.txt). See docs/configuration.md.
RUNTIMES = ("torch", "onnxruntime", "openvino")
# Old spellings of handler.limits keys (archives built before the rename): still read for one release, logged.
DEPRECATED_LIMITS = {"max_shifts": "max_offsets"}
log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """model-config.yaml holds a handler setting that is missing, unknown or out of range."""


@dataclass(frozen=True)
class ModelSpec:
    """How to make the network: `builder` ('module:callable', called with `kwargs`) builds the network that the
    archive's state_dict fits; with `format` pt2 the archive's file is an exported program, loaded as it is (no
    builder, no source code). `num_classes` and `labels` (the archive's label set file; None: ImageNet's) are its
    classes; `arch`, `antialiased` and `filter_size` are reported."""

    builder: str | None
    kwargs: Mapping[str, Any]
    arch: str
    antialiased: bool
    filter_size: int | None
    format: str = "state_dict"
    num_classes: int = NUM_CLASSES
    labels: str | None = None


@dataclass(frozen=True)
class Limits:
    """Bounds on one request (the image: `image`; shifts, crop size, top-k, view pixels), on one batch (views, their
    pixels, decoded pixels) and on one forward pass (view pixels): the worker's memory and time for one batch are
    bounded by them, not by what clients send. A view's pixels are its crop's area (crop_size squared)."""

    image: ImageLimits
    max_offsets: int
    max_crop_size: int
    max_view_pixels_per_request: int
    default_topk: int
    max_topk: int
    max_images_per_batch: int
    max_pixels_per_batch: int
    max_view_pixels_per_batch: int
    max_view_pixels_per_forward: int


@dataclass(frozen=True)
class HandlerSettings:
    """Everything the handler reads from model-config.yaml (`handler:` section)."""

    model: ModelSpec
    weights: WeightsInfo
    limits: Limits
    device: str  # auto: the GPU TorchServe assigns to the worker when there is one, else the CPU
    precision: str  # autocast dtype on CUDA; the CPU always computes in float32
    compile: bool
    channels_last: bool
    fold_batch_norm: bool
    runtime: str = "torch"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return PRECISIONS[self.precision]

    @classmethod
    def from_model_config(cls, config: Mapping[str, Any]) -> HandlerSettings:
        """Parse the whole model-config.yaml mapping; raise SettingsError naming the first problem."""
        section = config.get("handler")
        if not isinstance(section, Mapping):
            raise SettingsError("model-config.yaml has no 'handler' section")
        values = _take(section, cls, "handler")
        values["model"] = ModelSpec(**_take(values["model"], ModelSpec, "handler.model"))
        values["weights"] = WeightsInfo(**_take(values["weights"], WeightsInfo, "handler.weights"))  # the contract's
        limits = _take(_renamed_limits(values["limits"]), Limits, "handler.limits")
        image = _take(limits["image"], ImageLimits, "handler.limits.image")
        try:
            limits["image"] = ImageLimits(**image)
        except ValueError as error:
            raise SettingsError(f"handler.limits.image: {error}") from error
        values["limits"] = Limits(**limits)
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        if self.device not in DEVICES:
            raise SettingsError(f"handler.device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise SettingsError(f"handler.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.runtime not in RUNTIMES:
            raise SettingsError(f"handler.runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.runtime != "torch" and (self.device == "cuda" or self.compile):
            raise SettingsError(f"handler.runtime {self.runtime} computes on the CPU: it takes device cpu or auto "
                                "(the CPU) and compile false")  # fmt: skip
        for field in fields(Limits):
            value = getattr(self.limits, field.name)
            if field.name != "image" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise SettingsError(f"handler.limits.{field.name} must be a positive integer, got {value!r}")
        if not 1 <= self.limits.default_topk <= self.limits.max_topk:
            raise SettingsError("handler.limits.default_topk must be in [1, max_topk]")
        if self.limits.max_offsets > self.limits.max_images_per_batch:
            raise SettingsError("handler.limits.max_offsets must not exceed max_images_per_batch")
        if self.limits.image.max_pixels > self.limits.max_pixels_per_batch:
            raise SettingsError("handler.limits.image.max_pixels must not exceed max_pixels_per_batch")
        if not MIN_CROP_SIZE <= self.limits.max_crop_size <= MAX_IMAGE_SIDE:
            raise SettingsError(f"handler.limits.max_crop_size must be in [{MIN_CROP_SIZE}, {MAX_IMAGE_SIDE}]")
        largest_view = max(self.limits.max_crop_size, CROP_SIZE) ** 2  # a plain request's view is CROP_SIZE square
        if largest_view > self.limits.max_view_pixels_per_forward:
            raise SettingsError(
                f"handler.limits.max_view_pixels_per_forward must hold one view of max_crop_size and of {CROP_SIZE}"
            )
        if self.limits.max_view_pixels_per_forward > self.limits.max_view_pixels_per_batch:
            raise SettingsError("handler.limits.max_view_pixels_per_forward must not exceed max_view_pixels_per_batch")
        if not largest_view <= self.limits.max_view_pixels_per_request <= self.limits.max_view_pixels_per_batch:
            raise SettingsError(
                f"handler.limits.max_view_pixels_per_request must hold one view of max_crop_size and of {CROP_SIZE}, "
                "and not exceed max_view_pixels_per_batch"
            )
        model = self.model
        if model.format not in FORMATS:
            raise SettingsError(f"handler.model.format must be one of {', '.join(FORMATS)}, got {model.format!r}")
        if model.format == "state_dict" and ":" not in str(model.builder):
            raise SettingsError(f"handler.model.builder must be 'module:callable', got {model.builder!r}")
        if model.format == "pt2" and model.builder is not None:
            raise SettingsError("handler.model.builder must be null for an exported program (format pt2)")
        if type(model.num_classes) is not int or model.num_classes < 1:
            raise SettingsError(f"handler.model.num_classes must be a positive integer, got {model.num_classes!r}")
        if model.labels is None and model.num_classes != NUM_CLASSES:
            raise SettingsError(f"handler.model.labels must name the label set of the {model.num_classes} classes")


def _take(section: Any, kind: type, where: str) -> dict[str, Any]:
    """The keys of `section` that `kind` takes: unknown keys and missing required keys are refused."""
    if not isinstance(section, Mapping):
        raise SettingsError(f"{where} must be a mapping")
    if issubclass(kind, BaseModel):
        names, required = set(kind.model_fields), {name for name, f in kind.model_fields.items() if f.is_required()}
    else:
        names = {field.name for field in fields(kind)}
        required = {field.name for field in fields(kind) if field.default is MISSING}
    unknown, missing = set(section) - names, required - set(section)
    if unknown or missing:
        raise SettingsError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    return dict(section)


def _renamed_limits(section: Any) -> Any:
    """`section` with each deprecated key of DEPRECATED_LIMITS under its new name (logged), unless both are given."""
    if not isinstance(section, Mapping):
        return section
    section = dict(section)
    for old, new in DEPRECATED_LIMITS.items():
        if old in section and new not in section:
            log.warning("handler.limits.%s is deprecated: rebuild the archive (it is now %s)", old, new)
            section[new] = section.pop(old)
    return section
