"""The embedded engine: a DataLoader decodes each image once and cuts all its views; batched forward passes."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from antialiased.evaluate.engines.base import ImageResult, InProcessEngine, PreparedModels, WorkItem, views_for


class _Views(Dataset):
    def __init__(self, items: list[WorkItem]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, position: int) -> tuple[WorkItem, torch.Tensor | None, str | None]:
        item = self.items[position]
        return (item, *views_for(item))


def _as_list(batch: list) -> list:
    return batch


class LocalEngine(InProcessEngine):
    """All networks (name -> eager network) on one device; `batch_size` images per step, decoded and cut by
    `workers` loader processes. The fine-tuning's validation runs it on the network it trains."""

    def __init__(
        self,
        networks: dict[str, nn.Module],
        *,
        device: torch.device,
        precision: str,
        batch_size: int,
        workers: int,
        max_views: int,
    ) -> None:
        self.prepared = PreparedModels(networks, device, precision, max_views)
        self.batch_size = batch_size
        self.workers = workers

    def run(self, items: list[WorkItem]) -> Iterator[ImageResult]:
        loader = DataLoader(
            _Views(items),
            batch_size=self.batch_size,
            num_workers=self.workers,
            collate_fn=_as_list,
            pin_memory=self.prepared.device.type == "cuda",
        )
        for batch in loader:
            for item, _, error in batch:
                if error is not None:
                    yield ImageResult(item.index, error=error)
            yield from self.prepared.score((item, views) for item, views, _ in batch if views is not None)
