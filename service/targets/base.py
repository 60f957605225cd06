"""What a probe target does (`Target.classify`: the predictions at every view of one probe) and what the targets
over HTTP share: a pooled client, bounded concurrency, and failures as 502/504 errors that name the target."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import numpy as np

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import ImageInfo, ImageLimits
from antialiased.metrics import TOP5
from antialiased.preprocessing import CROP_SIZE
from antialiased.serving.contract import ModelInfo, Prediction, WeightsInfo
from antialiased.shifts import ShiftRequest
from service.target_settings import LabelledConfig, TargetConfig
from service.views import frame_views, image_views

if TYPE_CHECKING:
    from service.scheduler import Ticket


@dataclass(frozen=True)
class TargetAnswer:
    """A target's predictions at each view, in the order of the offsets (most probable first, at least the top 5),
    and the probability at each view of every class that is top-1 at some view."""

    shifts: list[list[Prediction]]
    class_probabilities: dict[int, list[float]]
    model: ModelInfo | None = None  # what our handler says of itself; other servers do not say
    weights: WeightsInfo | None = None


class ProbeImage:
    """One probe's image and shift request, and its `ticket` in the scheduler (for the targets it schedules); the
    views are cut once, on first need, in a worker thread."""

    def __init__(
        self, image: bytes, request: ShiftRequest, limits: ImageLimits, info: ImageInfo, ticket: Ticket | None = None
    ) -> None:
        self.image = image
        self.request = request
        self.ticket = ticket
        self._limits = limits
        self._info = info  # the header the service checked: not read again
        self._views: asyncio.Task[np.ndarray] | None = None

    async def views(self) -> np.ndarray:
        """The (n, crop, crop, 3) uint8 views (see service.views); ApiError for an undecodable image."""
        if self._views is None:
            self._views = asyncio.ensure_future(asyncio.to_thread(self._cut))
        return await asyncio.shield(self._views)

    def _cut(self) -> np.ndarray:
        return image_views(self.image, self.request, self._limits, self._info)


class FramesProbe(ProbeImage):
    """The frames of a sequence probe: the views are their center crops, one per frame, in order."""

    def __init__(self, frames: list[bytes], limits: ImageLimits, infos: list[ImageInfo]) -> None:
        super().__init__(frames[0], ShiftRequest(offsets=((0, 0),), base_size=CROP_SIZE), limits, infos[0])
        self.frames = frames
        self._infos = infos

    def _cut(self) -> np.ndarray:
        return frame_views(self.frames, self._limits, self._infos)


class Target(ABC):
    """A classifier the probe service can probe."""

    cuts_views: ClassVar[bool] = True  # whether the service cuts the views for it (else: a shift request)
    scheduled: ClassVar[bool] = False  # whether its shift requests take turns in the service's scheduler

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.name = config.name

    @property
    def kind(self) -> str:
        """How the target is asked (its settings' `kind`): ours, torchserve or oip."""
        return self.config.kind

    @abstractmethod
    async def classify(self, probe: ProbeImage, topk: int) -> TargetAnswer:
        """The top `topk` (at least) at every view of `probe`; ApiError when the target fails."""

    async def classify_frames(self, frames: FramesProbe, topk: int) -> TargetAnswer:
        """The top `topk` (at least) of every frame's center crop: by default the crops as the views of a probe."""
        return await self.classify(frames, topk)

    async def aclose(self) -> None:  # noqa: B027 - most targets hold nothing to release
        """Release the target's connections."""


class RemoteTarget(Target):
    """A target over HTTP that the service sends views to: one pooled client, at most `max_concurrency` requests."""

    def __init__(self, config: LabelledConfig) -> None:
        super().__init__(config)
        self.labels = config.labels
        self._client = httpx.AsyncClient(
            base_url=config.url,
            timeout=config.timeout_s,
            headers=config.auth_headers(),
            limits=httpx.Limits(max_connections=config.max_concurrency),
        )
        self._slots = asyncio.Semaphore(config.max_concurrency)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, path: str, **request: Any) -> httpx.Response:
        """POST to the target; its failures (unreachable, timeout, not 200) as ApiError naming it."""
        async with self._slots:
            try:
                response = await self._client.post(path, **request)
            except httpx.TimeoutException:
                message = f"target {self.name} did not answer within {self.config.timeout_s:g} s"
                raise ApiError(ErrorCode.TARGET_TIMEOUT, message, 504) from None
            except httpx.HTTPError as error:
                raise self.failure(f"cannot be reached at {self.config.url}: {error!r}") from None
        if response.status_code != 200:
            raise self.failure(f"answered HTTP {response.status_code}: {response.text[:200]!r}")
        return response

    def failure(self, problem: str) -> ApiError:
        return ApiError(ErrorCode.TARGET_ERROR, f"target {self.name} {problem}", 502)

    def prediction(self, index: int, probability: float) -> Prediction:
        return Prediction(index=index, label=self.labels[index], probability=probability)

    def scores_answer(self, scores: np.ndarray, topk: int) -> TargetAnswer:
        """The answer from one row of class probabilities per view."""
        classes = len(self.labels)
        if scores.ndim != 2 or scores.shape[1] != classes:
            raise self.failure(f"answered scores of shape {list(scores.shape)}, not {classes} classes per view")
        if not np.isfinite(scores).all():
            raise self.failure("answered scores that are not finite numbers")
        order = np.argsort(-scores, axis=1, kind="stable")[:, :topk]
        shifts = [[self.prediction(int(i), float(row[i])) for i in top] for row, top in zip(scores, order, strict=True)]
        top1 = sorted({int(top[0]) for top in order})
        return TargetAnswer(shifts, {c: scores[:, c].astype(float).tolist() for c in top1})

    def rankings_answer(self, shifts: Sequence[list[Prediction]], topk: int) -> TargetAnswer:
        """The answer from each view's top classes only: a class missing from a view's list counts as probability
        0 there (a lower bound: the target did not say)."""
        if any(len(ranking) < TOP5 for ranking in shifts):
            raise self.failure(f"answered fewer than {TOP5} classes for a view (the metrics need the top 5)")
        ranked = [sorted(ranking, key=lambda p: -p.probability) for ranking in shifts]
        top1 = sorted({ranking[0].index for ranking in ranked})
        curves = {c: [next((p.probability for p in r if p.index == c), 0.0) for r in ranked] for c in top1}
        return TargetAnswer([ranking[:topk] for ranking in ranked], curves)
