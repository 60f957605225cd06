"""Response bodies of the probe API (they also document it at /docs); served-model facts come from the contract."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from antialiased.metrics import StabilityMetrics
from antialiased.sequences import SequenceLimits, SequenceMetrics
from antialiased.serving.contract import ModelInfo, Prediction, ShiftPrediction, WeightsInfo
from antialiased.shifts import ShiftMode, SubpixelMethod


class Plan(BaseModel):
    """The shifts of the probe: protocol, geometry, the distinct offsets, and the compared index pairs."""

    protocol: str
    seed: int
    max_shift: int
    mode: ShiftMode
    crop_size: int
    base_size: int
    resize_size: int
    offsets: list[tuple[int | float, int | float]]
    pairs: list[tuple[int, int]]
    sequence: list[int] | None
    method: SubpixelMethod | None = Field(None, description="How sub-pixel views are cut (fractional, half-pixel)")
    origin: tuple[int, int] | None = Field(None, description="The unshifted view's offset (fractional, worst-case)")


class ModelTimings(BaseModel):
    torchserve_ms: float = Field(description="The target's requests (ours: one TorchServe request), retries included")
    metrics_ms: float


class TargetFacts(BaseModel):
    """Which target answered, and what it says of itself."""

    target: str = Field(description="The probe target's name")
    target_kind: str = Field(description="How the target is asked (its settings' `kind`): ours, torchserve or oip")
    protocol: str = Field(
        description="Deprecated: the same as target_kind, its old name (sent for one release)", deprecated=True
    )
    model: ModelInfo | None = Field(description="What our handler says of the model; null for other servers")
    weights: WeightsInfo | None = Field(description="The weights our handler serves; null for other servers")


class ModelProbe(TargetFacts):
    """One target's answer to one probe."""

    score: float = Field(description="Stability score: consistency of top-1 over the plan's pairs")
    metrics: StabilityMetrics
    majority_label: str
    shifts: list[ShiftPrediction] = Field(description="One per plan offset, in the same order")
    class_probabilities: dict[str, list[float]] = Field(
        description="Per class that is top-1 somewhere: its probability at each shift"
    )
    timings: ModelTimings


class RequestTimings(BaseModel):
    validate_ms: float = Field(description="Reading the upload and checking its image header")
    total_ms: float


class StabilityResponse(ModelProbe):
    plan: Plan
    request_timings: RequestTimings


class CompareResponse(BaseModel):
    plan: Plan
    results: list[ModelProbe]
    request_timings: RequestTimings


class ModelSequence(TargetFacts):
    """One target's answer to one sequence probe."""

    metrics: SequenceMetrics
    majority_label: str
    frames: list[list[Prediction]] = Field(description="Each frame's top-k, in the order of the frames")
    class_probabilities: dict[str, list[float]] = Field(
        description="Per class that is top-1 at some frame: its probability at each frame"
    )
    timings: ModelTimings


class VideoFacts(BaseModel):
    """What a video's header says (antialiased.sequences.video.VideoInfo)."""

    container: str = Field(description="FFmpeg's demuxer: mov (MP4, MOV), matroska (MKV, WebM) or gif")
    codec: str
    width: int
    height: int
    frames: int | None = Field(description="Frames in the video, as its header says (or its duration × frame rate)")
    fps: float | None


class SequenceResponse(BaseModel):
    frames: int = Field(description="Frames classified")
    frames_used: list[int] = Field(description="Which frames were classified: indices in the frames or the video sent")
    video: VideoFacts | None = Field(None, description="The video's header, when a video was sent")
    results: list[ModelSequence]
    request_timings: RequestTimings


class ServiceConfig(BaseModel):
    """What the page needs to know: targets (`models`), protocols, defaults and limits."""

    models: list[str] = Field(description="The probe targets' names")
    labels: dict[str, list[str] | None] = Field(
        description="Each target's class names by class index (null while TorchServe cannot tell a model's)"
    )
    default_model: str
    protocols: list[str]
    protocol_descriptions: dict[str, str]
    protocol_max_shift: dict[str, int] = Field(description="Each protocol's max_shift when none is given")
    max_offsets: int = Field(description="Distinct offsets (views) per probe (PROBE_MAX_OFFSETS)")
    max_shifts: int = Field(
        description="Deprecated: the same as max_offsets, its old name (sent for one release)", deprecated=True
    )
    max_topk: int
    max_upload_bytes: int
    sequence: SequenceLimits = Field(description="Limits of a frame sequence (/v1/sequence)")
    sequence_description: str
    api_key_required: bool
    api_key_header: str


def request_timings(start: float, validated: float) -> RequestTimings:
    """The timings of a request that began at `start` and was validated at `validated` (perf_counter), ending now."""
    now = time.perf_counter()
    return RequestTimings(validate_ms=(validated - start) * 1000, total_ms=(now - start) * 1000)
