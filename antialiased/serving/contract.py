"""The wire format between a client (the probe service, the evaluation's endpoint engine) and the TorchServe
handler: what `POST /predictions/<model>` takes and answers. Both sides import it; torch-free.

Request: the image as the raw body, or multipart with the image in field `data`, optionally `topk` (1..max,
default 5, at most the model's classes are answered; with a raw body the `X-TopK` header), `probabilities` (`true`:
the answer also carries every class's probability, of each view of a shift request of at most
`MAX_PROBABILITY_VIEWS` views; with a raw body the `X-Probabilities` header), `labels` (`true`: the answer also
carries the model's label set; with a raw body the `X-Labels` header) and `shifts` (the JSON of
`ShiftRequest.to_json()`: classify each shifted view instead of the center crop). A shift request holds at most the
handler's `max_view_pixels_per_request` view pixels (`shifts.MAX_VIEW_PIXELS_PER_REQUEST` by default); a larger one
is sent as its `ShiftRequest.chunks` of at most `MAX_PROBABILITY_VIEWS` views, each asking `probabilities`, and their
answers joined (`ShiftClassification.join`) into the answer the whole request would have had. Readiness and health
checks (and a client asking for the label set) mark their predictions with the `X-Request-Purpose` header and the
`purpose` query parameter.
Answers: `Classification` for a plain request, `ShiftClassification` for a shift request, `ErrorBody` (with
the HTTP status of the `ApiError`) for a refused one; `ErrorCode` lists every code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from antialiased.errors import ApiError, ErrorCode
from antialiased.labels import NUM_CLASSES
from antialiased.shifts import ShiftMode, ShiftRequest, SubpixelMethod

IMAGE_FIELD = "data"  # multipart field of the image; a raw request body arrives in the handler as "body"
TOPK_FIELD = "topk"  # multipart field
TOPK_HEADER = "X-TopK"  # with a raw body: TorchServe 0.12 passes no query parameters to the handler
SHIFTS_FIELD = "shifts"  # multipart field: the JSON of ShiftRequest.to_json()
PROBABILITIES_FIELD = "probabilities"  # multipart field: "true" asks for every class's probability (of each view)
PROBABILITIES_HEADER = "X-Probabilities"  # with a raw body
LABELS_FIELD = "labels"  # multipart field: "true" asks for the model's label set (plain requests)
LABELS_HEADER = "X-Labels"  # with a raw body
# Marks a prediction nobody asked for (readiness and health checks), so metrics and logs can tell it apart; it is
# sent as this header (the handler counts it) and as the query parameter `purpose` (TorchServe's access log shows it).
PURPOSE_HEADER = "X-Request-Purpose"
PURPOSE_PARAMETER = "purpose"
SYNTHETIC_PURPOSES = ("readiness", "healthcheck", "labels")
DEFAULT_TOPK = 5
MAX_TOPK = 20
# The most views of a shift request whose every class's probability is answered: each view adds a number per class
# to the answer (about 20 kB of JSON for ImageNet's 1000).
MAX_PROBABILITY_VIEWS = 64

__all__ = [
    "DEFAULT_TOPK",
    "IMAGE_FIELD",
    "LABELS_FIELD",
    "LABELS_HEADER",
    "MAX_PROBABILITY_VIEWS",
    "MAX_TOPK",
    "PROBABILITIES_FIELD",
    "PROBABILITIES_HEADER",
    "PURPOSE_HEADER",
    "PURPOSE_PARAMETER",
    "SHIFTS_FIELD",
    "SYNTHETIC_PURPOSES",
    "TOPK_FIELD",
    "TOPK_HEADER",
    "ApiError",
    "ClassName",
    "Classification",
    "ErrorBody",
    "ErrorCode",
    "ModelInfo",
    "Prediction",
    "ShiftClassification",
    "ShiftGeometry",
    "ShiftPrediction",
    "ShiftRequest",
    "WeightsInfo",
    "synthetic_marks",
]


def synthetic_marks(purpose: str) -> tuple[dict[str, str], dict[str, str]]:
    """The header and the query parameter that mark a synthetic prediction of `purpose` (one of SYNTHETIC_PURPOSES)."""
    if purpose not in SYNTHETIC_PURPOSES:
        raise ValueError(f"not a synthetic purpose: {purpose!r}; one of {', '.join(SYNTHETIC_PURPOSES)}")
    return {PURPOSE_HEADER: purpose}, {PURPOSE_PARAMETER: purpose}


class Prediction(BaseModel):
    """One class of a top-k list."""

    index: int = Field(description="Class index of the model")
    label: str = Field(description="Its name in the model's label set (ImageNet's by default)")
    probability: float


class ClassName(BaseModel):
    """One class of a model's label set: its name, and its id (an ImageNet synset, ...) when it has one."""

    name: str
    id: str | None = None


class ModelInfo(BaseModel):
    """The served network, as the handler describes it."""

    name: str
    version: str | None = None
    arch: str
    antialiased: bool
    filter_size: int | None = None
    num_classes: int = Field(NUM_CLASSES, description="How many classes the model tells apart")


class WeightsInfo(BaseModel):
    """The weights the network runs with; `untrained` is true for random weights (meaningless predictions)."""

    name: str | None = Field(description="Registry name of the weights; null for random weights")
    sha256: str
    untrained: bool


class Classification(BaseModel):
    """The answer to a plain request: the top-k of the center crop, and every class's probability when asked."""

    model: ModelInfo
    weights: WeightsInfo
    topk: list[Prediction]
    probabilities: list[float] | None = Field(
        None, description="Probability of each class, by class index; only when the request asks for them"
    )
    labels: list[ClassName] | None = Field(
        None, description="The model's label set, by class index; only when the request asks for it"
    )


class ShiftGeometry(BaseModel):
    """How the views of a shift request were cut (the request's fields without its offsets)."""

    mode: ShiftMode
    crop_size: int
    base_size: int
    resize_size: int
    method: SubpixelMethod | None = Field(None, description="How sub-pixel views were cut; absent: integer offsets")


class ShiftPrediction(BaseModel):
    """The top-k of one shifted view."""

    offset: tuple[int | float, int | float] = Field(description="(dy, dx) in pixels (fractions with a method)")
    topk: list[Prediction]


class ShiftClassification(BaseModel):
    """The answer to a shift request: each view's top-k, in the order of the request's offsets, and the probability
    of every class that is top-1 at some view, at each view (so a client can follow one class across shifts); when
    asked, every class's probability at each view."""

    model: ModelInfo
    weights: WeightsInfo
    shift: ShiftGeometry
    shifts: list[ShiftPrediction]
    class_probabilities: dict[str, list[float]]
    probabilities: list[list[float]] | None = Field(
        None, description="Probability of each class at each view, by class index; only when the request asks"
    )

    @classmethod
    def join(cls, parts: Sequence[ShiftClassification], rows: np.ndarray) -> ShiftClassification:
        """The answer to a whole shift request from the answers to its consecutive chunks and every class's
        probability at each of their views, in order (`rows`, float32: the handler's values exactly): every view's
        top-k, and the probability curve of every class top-1 at some view (the first of equal maxima, as the
        handler's argmax)."""
        top1 = sorted(set(rows.argmax(axis=1).tolist()))
        return parts[0].model_copy(
            update={
                "shifts": [shift for part in parts for shift in part.shifts],
                "class_probabilities": {str(c): rows[:, c].astype(float).tolist() for c in top1},
                "probabilities": None,
            }
        )


class ErrorBody(BaseModel):
    """The body of every refused request, from the handler and from the probe service."""

    model_config = ConfigDict(extra="allow")
    code: ErrorCode
    message: str
