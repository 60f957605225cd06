"""The state of one request as it moves through the handler's steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from antialiased.errors import ApiError
from antialiased.imagefile import ImageInfo
from handlers.requests import ParsedRequest


@dataclass
class BatchItem:
    """One request of a TorchServe batch: what it asks, its image's header, its views, then its probabilities — or
    the error that refuses it."""

    request: ParsedRequest | None = None
    info: ImageInfo | None = None
    views: torch.Tensor | None = None  # normalised (n, 3, h, w) on the model's device
    probabilities: torch.Tensor | None = None  # (n, classes) on the CPU
    error: ApiError | None = None

    @property
    def admitted(self) -> bool:
        return self.error is None and self.request is not None
