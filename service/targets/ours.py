"""`ours`: a model served by our handler on TorchServe. The image goes with the shift request (with each chunk of
a large one, in the turns of the service's scheduler); the handler cuts the views itself (on its GPU when it has
one) and classifies them in forward passes of its batch."""

from __future__ import annotations

import asyncio

from service.target_settings import OursConfig
from service.targets.base import FramesProbe, ProbeImage, Target, TargetAnswer
from service.torchserve_client import TorchServeClient


class OursTarget(Target):
    cuts_views = False
    scheduled = True

    def __init__(self, config: OursConfig, client: TorchServeClient, owns_client: bool) -> None:
        super().__init__(config)
        self._client = client
        self._owns_client = owns_client  # the app's own TorchServe client outlives the target

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def classify(self, probe: ProbeImage, topk: int) -> TargetAnswer:
        turn = probe.ticket.turn(self.name) if probe.ticket is not None else None
        answer = await self._client.classify_shifts(
            self.config.served_name, probe.image, probe.request, topk=topk, turn=turn
        )
        return TargetAnswer(
            shifts=[shift.topk for shift in answer.shifts],
            class_probabilities={int(c): p for c, p in answer.class_probabilities.items()},
            model=answer.model,
            weights=answer.weights,
        )

    async def classify_frames(self, frames: FramesProbe, topk: int) -> TargetAnswer:
        """One plain request per frame (TorchServe batches them), each answering every class's probability, so the
        majority class's probability is known at every frame."""
        name = self.config.served_name
        answers = await asyncio.gather(
            *(self._client.classify_every_class(name, f, topk=topk, purpose="sequence") for f in frames.frames)
        )
        top1 = sorted({answer.topk[0].index for answer in answers})
        curves = {c: [answer.probabilities[c] for answer in answers] for c in top1}  # type: ignore[index]
        first = answers[0]
        return TargetAnswer([a.topk for a in answers], curves, model=first.model, weights=first.weights)
