"""The training images: the evaluation's listing of an ImageFolder (its labels, `--labels`, skipped folders and
files), the library's decoding, the recipe's augmentation, and the order in which the processes take them.

Each image's augmentation is drawn from a generator keyed by (seed, epoch, image index), and each step takes the
next `batch_size` images of the epoch's permutation, split among the processes; so a step sees the same images,
cut the same way, whatever the number of processes, loader workers, or where a resumed run starts.
An image that cannot be decoded is left out of its batch and listed, never a crash.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.transforms import v2

from antialiased.datasets import Sample, read_image, unreadable
from antialiased.errors import ApiError
from antialiased.transforms import normalize, resize_center_crop

RESIZE_RATIO = 256 / 224  # the evaluation's Resize(256) before CenterCrop(224)


class TrainTransform:
    """uint8 (3, H, W) -> the normalised (3, crop, crop) input: the recipe's RandomResizedCrop and horizontal flip,
    or (`augment` off) the evaluation's resize and center crop."""

    def __init__(self, crop_size: int, augment: bool) -> None:
        self.crop_size = crop_size
        self.augment = v2.Compose([v2.RandomResizedCrop(crop_size, antialias=True), v2.RandomHorizontalFlip()])
        self.augmented = augment

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if self.augmented:
            return normalize(self.augment(image))
        return normalize(resize_center_crop(image, self.crop_size, round(self.crop_size * RESIZE_RATIO)))


class TrainImages(Dataset):
    """The samples decoded and transformed; item -> (input, label) or (None, 'relpath: why it cannot be read')."""

    def __init__(self, samples: tuple[Sample, ...], transform: TrainTransform, seed: int) -> None:
        self.samples = samples
        self.transform = transform
        self.seed = seed
        self.epoch = 0  # set before each epoch's loader starts (its workers copy the data set)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | None, int | str]:
        sample = self.samples[index]
        try:
            image = read_image(sample.path)
        except (OSError, ApiError) as error:
            return None, f"{sample.relpath}: {unreadable(error)}"
        key = np.random.SeedSequence((self.seed, self.epoch, index)).generate_state(1, np.uint64)[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(key) >> 1)
            return self.transform(image), sample.label


class Batch:
    """The readable images of one process's part of a step, and what could not be read."""

    def __init__(self, items: list[tuple[torch.Tensor | None, int | str]]) -> None:
        readable = [(pixels, label) for pixels, label in items if pixels is not None]
        self.inputs = torch.stack([pixels for pixels, _ in readable]) if readable else None
        self.labels = torch.tensor([label for _, label in readable], dtype=torch.long)
        self.unreadable = [why for pixels, why in items if pixels is None]


class StepSampler(DistributedSampler):
    """Each epoch a permutation of the images (seeded by seed + epoch, as DistributedSampler's); step j takes its
    images j*batch .. (j+1)*batch - 1, the processes one in `world_size` each; the last partial batch is dropped.
    `start_step` skips the steps a resumed run has done."""

    def __init__(self, dataset: Dataset, batch_size: int, rank: int, world_size: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.steps = len(dataset) // batch_size
        self.start_step = 0

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.dataset), generator=generator)[: self.steps * self.batch_size].tolist()
        mine = order[self.rank :: self.num_replicas]
        return itertools.islice(iter(mine), self.start_step * self.batch_size // self.num_replicas, None)

    def __len__(self) -> int:
        return (self.steps - self.start_step) * self.batch_size // self.num_replicas


def loader(images: TrainImages, sampler: StepSampler, workers: int) -> DataLoader:
    """The loader of one process: its part of each step's batch."""
    return DataLoader(
        images,
        batch_size=sampler.batch_size // sampler.num_replicas,
        sampler=sampler,
        num_workers=workers,
        collate_fn=Batch,
        drop_last=True,
    )
