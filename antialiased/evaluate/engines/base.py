"""What every engine shares: the work (image, label, plan), its result, and the in-process forward pass."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from antialiased.datasets import SEQUENCE_LIMITS, read_image, read_image_file, unreadable
from antialiased.errors import ApiError, ErrorCode
from antialiased.evaluate.plans import ImagePlan
from antialiased.evaluate.scoring import cut_views, frame_views, record_from_logits
from antialiased.imagefile import ImageLimits
from antialiased.inference import PRECISIONS, prepare_for_inference, to_model_input
from antialiased.sequences.video import open_video


@dataclass(frozen=True)
class WorkItem:
    """One image to evaluate: its index in the evaluation order, file, label and plan; or one sequence: its folder
    and its frames' files in order, or its video file; NO_LABEL and its plan (`plans.sequence_plan`)."""

    index: int
    path: Path
    label: int
    plan: ImagePlan
    frames: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ImageResult:
    """Each model's record of one image (see scoring.image_record), or why the image could not be evaluated."""

    index: int
    records: dict[str, dict[str, Any]] | None = None
    error: str | None = None


class Engine(Protocol):
    """What runs the models on the work (built by `antialiased.evaluate.engines.kinds`)."""

    def run(self, items: list[WorkItem]) -> Iterator[ImageResult]:
        """Evaluate the items with every model; yield each image's result as soon as it is known, in any order."""
        ...

    @property
    def served_weights(self) -> dict[str, str | None]:
        """Model name -> sha256 of the weights a server reports serving ({} where this process loads them)."""
        ...


class InProcessEngine:
    """An engine that loads the weights in this process: the run knows their sha256, no server reports them."""

    @property
    def served_weights(self) -> dict[str, str | None]:
        """None served: {} (see `Engine.served_weights`)."""
        return {}


def frame_error(frame: str, error: str) -> str:
    """Why a sequence cannot be scored: its `frame` (`frame 3 (03.png)`, from 0 as /v1/sequence names a frame; or
    `the video`) cannot be read."""
    return f"{frame}: {error}"


def decode_for(item: WorkItem) -> tuple[torch.Tensor | None, str | None]:
    """The decoded image of `item`, or the reason it cannot be decoded ('code: message')."""
    try:
        return read_image(item.path), None
    except (OSError, ApiError) as error:
        return None, unreadable(error)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device here")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' is bfloat16 on a GPU and float32 on the CPU (where the prepared model always runs in float32)."""
    if precision == "auto":
        return "bfloat16" if device.type == "cuda" else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use auto or {', '.join(PRECISIONS)}")
    if device.type != "cuda" and precision != "float32":
        raise ValueError(f"--precision {precision} needs a GPU: on the CPU the model runs in float32")
    return precision


class PreparedModels:
    """The networks prepared for inference on one device; scores the views of images with each of them."""

    def __init__(self, networks: dict[str, nn.Module], device: torch.device, precision: str, max_views: int) -> None:
        self.device = device
        self.max_views = max_views
        self.models = {
            name: prepare_for_inference(network, device, autocast_dtype=PRECISIONS[precision])
            for name, network in networks.items()
        }

    @torch.inference_mode()
    def logits(self, model: nn.Module, views: torch.Tensor) -> torch.Tensor:
        """Logits (views, classes) on the CPU, at most `max_views` views per forward pass."""
        chunks = views.to(self.device, non_blocking=True).split(self.max_views)
        return torch.cat([model(to_model_input(chunk)).float().cpu() for chunk in chunks])

    def score(self, items: Iterable[tuple[WorkItem, torch.Tensor]]) -> list[ImageResult]:
        """The records of images whose views are already cut: one forward pass per model for all of them."""
        items = list(items)
        if not items:
            return []
        views = torch.cat([views for _, views in items])
        sizes = [len(views) for _, views in items]
        records: list[dict[str, dict[str, Any]]] = [{} for _ in items]
        for name, model in self.models.items():
            for record, (item, _), logits in zip(records, items, self.logits(model, views).split(sizes), strict=True):
                record[name] = record_from_logits(item.plan, logits, item.label)
        return [ImageResult(item.index, record) for (item, _), record in zip(items, records, strict=True)]


def sequence_frames(item: WorkItem) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    """A sequence's frames, one at a time: what to call each in a message (`frame 3 (03.png)`) and how to get its
    (H, W, 3) uint8 pixels (OSError or ApiError when it cannot be read). A video is decoded one frame at a time
    (`antialiased.sequences.video`, within the sequence limits)."""
    if item.frames:
        for number, path in enumerate(item.frames):
            yield f"frame {number} ({path.name})", lambda path=path: read_image(path).permute(1, 2, 0).numpy()
        return
    data = read_image_file(item.path, ImageLimits(max_bytes=SEQUENCE_LIMITS.max_bytes))
    with open_video(data, SEQUENCE_LIMITS, ImageLimits()) as reader:
        frames = reader.info.frames
        if reader.info.declared and frames is not None and frames > SEQUENCE_LIMITS.max_frames:
            raise ApiError(
                ErrorCode.TOO_MANY_FRAMES, f"{frames} frames: more than the limit, {SEQUENCE_LIMITS.max_frames}"
            )
        for index, pixels in reader.frames():
            yield f"frame {index}", lambda pixels=pixels: pixels


def views_for(item: WorkItem) -> tuple[torch.Tensor | None, str | None]:
    """All views of `item` cut from its one decoded image, or the reason the image cannot be read; of a sequence,
    each frame's view (a frame decoded at a time), or the reason its first bad frame (or its video) cannot be read."""
    if item.plan.sequence is not None:
        views, frame = [], "the video"  # a video's errors name their frame themselves
        try:
            for name, pixels in sequence_frames(item):
                frame = name if item.frames else frame
                views.append(frame_views([torch.from_numpy(pixels()).permute(2, 0, 1)]))
        except (OSError, ApiError) as error:
            return None, frame_error(frame, unreadable(error))
        return torch.cat(views), None
    image, error = decode_for(item)
    return (None, error) if image is None else (cut_views(image, item.plan), None)
