"""Training throughput of `antialiased.finetune`'s loop against a bare PyTorch loop, on the same model and data in
the same process: one process (no DDP) on this machine's device, a batch of 32 and 224x224 crops by default.

The bare loop is the textbook one: torchvision's ImageFolder with the same RandomResizedCrop + flip, a DataLoader,
SGD, no logging, no checkpoints. Both start from the same antialiased network (random weights: speed does not
depend on them) and read the same generated JPEGs. Each repetition is one whole run of each, one epoch of `--steps`
steps, the two in alternation (ABBA, as `benchmarks.timing.median_ratio` times two callables), so that load that
comes and goes on the machine weighs on both alike. Two ratios, ours / bare throughput (goal >= 0.9):

- per step: the median step time after each run's first step (the loader's start-up), over all repetitions: the
  rate of a long run's steps;
- per run: the median wall time of a whole run, start-up to finished: what a user's run of that many steps pays.
  Ours includes everything its command does besides the steps: building the model, listing the data, the JSON
  line per step, at the epoch's end the checkpoint (`state.pt`: model, optimizer, ...) and the progress plot, then
  the weights and the registry entry. Here they come once per `--steps` steps; in a run of many steps per epoch
  (ImageNet: 5,000 at the default batch) they weigh next to nothing, so this ratio is a lower bound.

Usage: make bench-train   (or: python -m benchmarks.bench_train --arch resnet50 --steps 8 --repeats 4)
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
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
from antialiased.finetune.network import build_model
from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from antialiased.weights import save_checkpoint
from benchmarks.timing import describe_device, median_ratio

SYNSETS = ("n02123045", "n07920052", "n04266014", "n01440764")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def _write_data(root: Path, images: int) -> Path:
    for i in range(images):
        photo = getattr(data, PHOTOS[i % len(PHOTOS)])()
        path = root / SYNSETS[i % len(SYNSETS)] / f"{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(photo[:, ::-1] if i % 3 else photo)).resize((500, 375)).save(path)
    return root


def _ours(config: FinetuneConfig) -> list[float]:
    """One run of the command's loop into a fresh folder; its step times."""
    finetune(config)
    return [record["seconds"] for record in read_records(config.out / config.name / STEPS_FILE)]


def _bare(config: FinetuneConfig, device: torch.device) -> list[float]:
    """One run of the textbook loop on `device` (on CUDA as ours runs there: channels_last, bfloat16 autocast);
    its step times."""
    cuda = device.type == "cuda"
    model = build_model(config.model, config.weights, config.filter_size, None, config.crop_size).network
    model = model.to(device, memory_format=torch.channels_last if cuda else torch.contiguous_format).train()
    augment = transforms.Compose([
        transforms.RandomResizedCrop(config.crop_size), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])  # fmt: skip
    images = torchvision.datasets.ImageFolder(str(config.data), augment)
    loader = torch.utils.data.DataLoader(
        images, config.batch_size, shuffle=True, num_workers=config.workers, drop_last=True
    )
    optimizer = torch.optim.SGD(model.parameters(), config.lr, momentum=config.momentum, weight_decay=1e-4)
    seconds, last = [], time.perf_counter()
    for inputs, labels in loader:
        inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        if cuda:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()  # the step is done (as ours, which logs each step's loss)
        now = time.perf_counter()
        seconds.append(now - last)
        last = now
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18", help="a zoo architecture (random baseline weights)")
    parser.add_argument("--steps", type=int, default=4, help="steps per run (the first is not counted per step)")
    parser.add_argument("--repeats", type=int, default=4, help="runs of each loop, in alternation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each loop first")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA if there is one")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    steps: dict[str, list[float]] = {"ours": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = save_checkpoint(torchvision.models.get_model(args.arch), root, f"{args.arch}_random")
        images = _write_data(root / "data", args.batch * args.steps)
        config = FinetuneConfig(model=args.arch, weights=str(weights), data=images, name="bench", out=root / "out",
                                epochs=1, batch_size=args.batch, crop_size=args.crop, workers=args.workers,
                                device=device.type, quiet=True)  # fmt: skip
        runs = itertools.count()

        def ours() -> None:  # a fresh run folder each time: the same one would resume a finished run
            steps["ours"] += _ours(dataclasses.replace(config, out=root / f"out{next(runs)}"))[1:]

        def bare() -> None:
            steps["bare"] += _bare(config, device)[1:]

        run_ratio = median_ratio(bare, ours, repeats=args.repeats, warmup=args.warmup)
    warm = args.warmup * (args.steps - 1)  # the warm-up runs' steps are not counted
    ours_step, bare_step = (statistics.median(steps[name][warm:]) for name in ("ours", "bare"))
    result = {
        "arch": args.arch,
        "device": describe_device(device),
        "batch": args.batch,
        "crop": args.crop,
        "steps_per_run": args.steps,
        "runs_each": args.repeats,
        "ours_images_per_s": args.batch / ours_step,
        "bare_images_per_s": args.batch / bare_step,
        "step_ratio": bare_step / ours_step,
        "run_ratio": run_ratio,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(f"ours / bare throughput: {result['step_ratio']:.2f}x per step, {run_ratio:.2f}x per whole run of "
          f"{args.steps} steps with its checkpoint and outputs (goal >= 0.9)")  # fmt: skip


if __name__ == "__main__":
    main()
