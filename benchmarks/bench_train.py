"""Training throughput of `antialiased.finetune`'s loop against a bare PyTorch loop, on the same model and data in
the same run: images/s at a batch of 32 and 224x224 crops, one process (no DDP) on this machine's device.

The bare loop is the textbook one: torchvision's ImageFolder with the same RandomResizedCrop + flip, a DataLoader,
SGD, no logging, no checkpoints. Both start from the same antialiased network (random weights: speed does not
depend on them) and read the same generated JPEGs; each one's median step time, after its first step, is compared.
Prints the ratio ours / bare (goal >= 0.9).
Usage: make bench-train   (or: python -m benchmarks.bench_train --arch resnet50 --steps 8)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from skimage import data
from torchvision import transforms

from antialiased.finetune import FinetuneConfig, finetune
from antialiased.finetune.logs import STEPS_FILE, read_records
from antialiased.finetune.models import build_model
from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from antialiased.weights import save_checkpoint
from benchmarks.timing import describe_device

SYNSETS = ("n02123045", "n07920052", "n04266014", "n01440764")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
BATCH, CROP = 32, 224


def _write_data(root: Path, images: int) -> Path:
    for i in range(images):
        photo = getattr(data, PHOTOS[i % len(PHOTOS)])()
        path = root / SYNSETS[i % len(SYNSETS)] / f"{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(photo[:, ::-1] if i % 3 else photo)).resize((500, 375)).save(path)
    return root


def _ours(config: FinetuneConfig) -> list[float]:
    finetune(config)
    return [record["seconds"] for record in read_records(config.out / config.name / STEPS_FILE)]


def _bare(config: FinetuneConfig) -> list[float]:
    model = build_model(config.model, config.weights, config.filter_size, None, CROP).network.train()
    augment = transforms.Compose([
        transforms.RandomResizedCrop(CROP), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])  # fmt: skip
    images = torchvision.datasets.ImageFolder(str(config.data), augment)
    loader = torch.utils.data.DataLoader(images, BATCH, shuffle=True, num_workers=config.workers, drop_last=True)
    optimizer = torch.optim.SGD(model.parameters(), config.lr, momentum=config.momentum, weight_decay=1e-4)
    seconds, last = [], time.perf_counter()
    for inputs, labels in loader:
        loss = F.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        now = time.perf_counter()
        seconds.append(now - last)
        last = now
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18", help="a zoo architecture (random baseline weights)")
    parser.add_argument("--steps", type=int, default=4, help="steps per loop (the first is not timed)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = save_checkpoint(torchvision.models.get_model(args.arch), root, f"{args.arch}_random")
        images = _write_data(root / "data", BATCH * args.steps)
        config = FinetuneConfig(model=args.arch, weights=str(weights), data=images, name="bench", out=root / "out",
                                epochs=1, batch_size=BATCH, workers=args.workers, quiet=True)  # fmt: skip
        bare = _bare(config)
        ours = _ours(config)
    ratio = statistics.median(bare[1:]) / statistics.median(ours[1:])
    result = {
        "arch": args.arch,
        "device": describe_device(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
        "batch": BATCH,
        "crop": CROP,
        "ours_images_per_s": BATCH / statistics.median(ours[1:]),
        "bare_images_per_s": BATCH / statistics.median(bare[1:]),
        "ratio": ratio,
    }
    print(json.dumps(result, indent=2))
    print(f"ours / bare throughput: {ratio:.2f}x (goal >= 0.9)")


if __name__ == "__main__":
    main()
