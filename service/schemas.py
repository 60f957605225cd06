"""Response bodies of the probe API (they also document it at /docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from antialiased.metrics import StabilityMetrics


class Prediction(BaseModel):
    index: int
    label: str
    probability: float


class ShiftResult(BaseModel):
    offset: tuple[int, int] = Field(description="(dy, dx) in pixels")
    topk: list[Prediction]


class ModelInfo(BaseModel):
    """The served model, as TorchServe's handler describes it."""

    model_config = ConfigDict(extra="allow")
    name: str
    version: str | None = None
    arch: str | None = None
    antialiased: bool | None = None
    filter_size: int | None = None


class WeightsInfo(BaseModel):
    """The weights the served model runs with; `untrained` is true for random weights."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    sha256: str | None = None
    untrained: bool


class Plan(BaseModel):
    """The shifts of the probe: protocol, geometry, the distinct offsets, and the compared index pairs."""

    protocol: str
    seed: int
    max_shift: int
    mode: str
    crop_size: int
    base_size: int
    resize_size: int
    offsets: list[tuple[int, int]]
    pairs: list[tuple[int, int]]
    sequence: list[int] | None


class ModelTimings(BaseModel):
    torchserve_ms: float = Field(description="The one TorchServe request, retries included")
    metrics_ms: float


class ModelProbe(BaseModel):
    """One model's answer to one probe."""

    model: ModelInfo
    weights: WeightsInfo
    score: float = Field(description="Stability score: consistency of top-1 over the plan's pairs")
    metrics: StabilityMetrics
    majority_label: str
    shifts: list[ShiftResult] = Field(description="One per plan offset, in the same order")
    class_probabilities: dict[str, list[float]] = Field(
        description="Per class that is top-1 somewhere: its probability at each shift"
    )
    timings: ModelTimings


class RequestTimings(BaseModel):
    validate_ms: float = Field(description="Reading and decoding the upload")
    total_ms: float


class StabilityResponse(ModelProbe):
    plan: Plan
    request_timings: RequestTimings


class CompareResponse(BaseModel):
    plan: Plan
    results: list[ModelProbe]
    request_timings: RequestTimings


class ServiceConfig(BaseModel):
    """What the page needs to know: models, protocols, defaults and limits."""

    models: list[str]
    default_model: str
    protocols: list[str]
    max_shifts: int
    max_top_k: int
    max_upload_bytes: int
    api_key_required: bool
    api_key_header: str
