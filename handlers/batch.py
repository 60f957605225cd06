"""The state of one request as it moves through the handler's steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from antialiased.images import ImageError
from handlers.requests import ParsedRequest, RequestError


@dataclass
class BatchItem:
    """One request of a TorchServe batch: what it asks, its views, then its probabilities, or its error."""

    request: ParsedRequest | None = None
    views: torch.Tensor | None = None  # normalised (n, 3, h, w) on the model's device
    probabilities: torch.Tensor | None = None  # (n, classes) on the CPU
    error: RequestError | ImageError | None = None
