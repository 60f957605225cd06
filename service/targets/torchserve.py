"""`torchserve`: any TorchServe model whose handler answers one image with `{label: probability}` for its top
classes (TorchServe's stock `image_classifier` answers the top 5). Each view goes as its own PNG request (TorchServe's
API takes one image per request; TorchServe batches them); the handler's own preprocessing applies to it."""

from __future__ import annotations

import asyncio

import numpy as np

from antialiased.serving.contract import Prediction
from service.target_settings import TorchServeConfig
from service.targets.base import ProbeImage, RemoteTarget, TargetAnswer
from service.views import encode_view


class TorchServeTarget(RemoteTarget):
    def __init__(self, config: TorchServeConfig) -> None:
        super().__init__(config)
        self._indices: dict[str, int] = {}
        for index, label in enumerate(config.labels):
            self._indices.setdefault(label, index)  # a label listed twice names its first index

    async def classify(self, probe: ProbeImage, topk: int) -> TargetAnswer:
        views = await probe.views()
        rankings = await asyncio.gather(*(self._classify_view(view) for view in views))
        return self.rankings_answer(rankings, topk)

    async def _classify_view(self, view: np.ndarray) -> list[Prediction]:
        png = await asyncio.to_thread(encode_view, view, "PNG")
        response = await self.post(
            f"/predictions/{self.config.served_name}", content=png, headers={"Content-Type": "image/png"}
        )
        try:
            answer = response.json()
        except ValueError:
            raise self.failure(f"answered something that is not JSON: {response.text[:100]!r}") from None
        if isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
        if not isinstance(answer, dict) or not all(isinstance(p, int | float) for p in answer.values()):
            raise self.failure(f"answered {str(answer)[:100]!r}, not {{label: probability}}")
        return [self.prediction(self._index(label), float(probability)) for label, probability in answer.items()]

    def _index(self, label: str) -> int:
        """The class index of a label of the answer: by the label list, or a class index written as text."""
        if label in self._indices:
            return self._indices[label]
        if label.isascii() and label.isdigit() and int(label) < len(self.labels):
            return int(label)
        raise self.failure(f"answered the label {label[:60]!r}, which is not in its label list")
