"""Each served model's label set (its class names by index), asked once of our handler and kept: a synthetic
prediction of the readiness image with `labels=true` (purpose `labels`). /v1/config, /v2 metadata and the /v2
classification extension name classes by it; the probe's answers carry the names the handler gives."""

from __future__ import annotations

import asyncio

from antialiased.errors import ApiError
from antialiased.serving.contract import ClassName
from antialiased.serving.readiness import readiness_image
from service.torchserve_client import TorchServeClient


class LabelSets:
    """The label sets asked so far; concurrent first asks for one model share one request."""

    def __init__(self, client: TorchServeClient, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._known: dict[str, list[ClassName]] = {}
        self._asking: dict[str, asyncio.Task[list[ClassName]]] = {}

    async def get(self, model: str, classes: int | None = None) -> list[ClassName]:
        """The label set of `model`, asked again when the kept one does not have `classes` classes (the model was
        replaced); ApiError when TorchServe cannot tell it."""
        known = self._known.get(model)
        if known is not None and (classes is None or len(known) == classes):
            return known
        task = self._asking.get(model)
        if task is None:
            task = self._asking[model] = asyncio.ensure_future(self._ask(model))
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._asking.get(model) is task:
                del self._asking[model]

    async def _ask(self, model: str) -> list[ClassName]:
        labels = await self._client.label_set(model, readiness_image(), timeout_s=self._timeout_s)
        self._known[model] = labels
        return labels

    async def names(self, model: str) -> list[str] | None:
        """The class names of `model`, or None when TorchServe cannot tell them now."""
        try:
            return [label.name for label in await self.get(model)]
        except ApiError:  # not known yet: /v1/config still answers
            return None
