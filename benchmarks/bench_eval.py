"""Throughput of the evaluation engines against the bare prepared model's forward passes, in one run.

On a generated ImageFolder of ImageNet-sized JPEGs (scikit-image photos, 500x375 and 375x500) and the
antialiased ResNet50 (filter 4, random weights: speed does not depend on them), accuracy + consistency
(5 passes: 11 views per image):
- local engine views/s (DataLoader decoding and cutting, batched forward passes), from the run's own log;
- the bare prepared model's forward views/s on the same views in the same chunks, decoding done beforehand;
- the Ray engine on a local Ray (decode tasks, one model actor), views/s.
Prints the ratios local / bare (goal >= 0.8) and Ray / local (goal >= 0.7).
Usage: make bench-eval   (or: python -m benchmarks.bench_eval --images 24 [--no-ray])
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from antialiased.evaluate.config import EvaluationConfig, RayOptions
from antialiased.evaluate.engines.base import PreparedModels, WorkItem, views_for
from antialiased.evaluate.plans import EvaluationProtocol, all_plans
from antialiased.evaluate.run import evaluate
from antialiased.evaluate.store import SESSIONS_FILE
from antialiased.models import create_model
from antialiased.weights import load_weights, save_checkpoint

SYNSETS = ("n02123045", "n07920052", "n04266014", "n01440764")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def _write_data(root: Path, images: int) -> Path:
    for i in range(images):
        photo = getattr(data, PHOTOS[i % len(PHOTOS)])()
        size = (500, 375) if i % 2 else (375, 500)
        path = root / SYNSETS[i % len(SYNSETS)] / f"{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(photo[:, ::-1] if i % 3 else photo)).resize(size).save(path, quality=90)
    return root


def _engine_views_per_second(out: Path) -> float:
    end = [json.loads(line) for line in (out / SESSIONS_FILE).read_text().splitlines()][-1]
    return end["views"] / end["seconds"]


def _bare_views_per_second(config: EvaluationConfig, checkpoint: Path, samples: list[Path], labels: list[int]) -> float:
    """The prepared model alone on the same views, batch by batch as the engine forms them (views cut beforehand)."""
    plans = all_plans(config.protocol, len(samples))
    items = [
        WorkItem(i, path, label, plan) for i, (path, label, plan) in enumerate(zip(samples, labels, plans, strict=True))
    ]
    network = load_weights(create_model("resnet50", 4), checkpoint)
    prepared = PreparedModels({"bare": network}, torch.device("cpu"), "float32", config.max_views)
    model = prepared.models["bare"]
    batches = [
        torch.cat([views_for(item)[0] for item in items[start : start + config.protocol.batch_size]])
        for start in range(0, len(items), config.protocol.batch_size)
    ]
    prepared.logits(model, batches[0])  # warm-up
    start = time.perf_counter()
    for views in batches:
        prepared.logits(model, views)
    return sum(len(views) for views in batches) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray engine")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = _write_data(tmp / "data", args.images)
        torch.manual_seed(0)
        checkpoint = save_checkpoint(create_model("resnet50", 4), tmp / "weights", "resnet50_lpf4_random")
        protocol = EvaluationProtocol(measures=("consistency",), epochs_shift=5, batch_size=args.batch_size)

        def config(name: str, engine: str) -> EvaluationConfig:
            return EvaluationConfig(
                data=root,
                models=[f"{checkpoint}:resnet50:4"],
                out=tmp / name,
                protocol=protocol,
                engine=engine,
                device="cpu",
                quiet=True,
                ray=RayOptions(actors=1, cpus_per_actor=1.5),
            )

        print(f"{args.images} JPEGs (500x375), resnet50_lpf4, accuracy + consistency (11 views per image), "
              f"batch {args.batch_size} images, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{os.cpu_count()} cores")  # fmt: skip
        local = config("local", "local")
        evaluate(local)
        local_rate = _engine_views_per_second(local.out)
        samples = sorted(root.glob("*/*.jpg"))
        labels = [0] * len(samples)
        bare_rate = _bare_views_per_second(local, checkpoint, samples, labels)
        print(f"bare prepared model forward  {bare_rate:7.1f} views/s")
        print(
            f"local engine                 {local_rate:7.1f} views/s   {local_rate / bare_rate:.2f} x bare (goal 0.8)"
        )
        if not args.no_ray:
            import ray

            ray.init(num_cpus=os.cpu_count(), log_to_driver=False)
            distributed = config("ray", "ray")
            evaluate(distributed)
            ray_rate = _engine_views_per_second(distributed.out)
            ray.shutdown()
            print(
                f"ray engine (1 actor)         {ray_rate:7.1f} views/s   {ray_rate / local_rate:.2f} x local (goal 0.7)"
            )


if __name__ == "__main__":
    main()
