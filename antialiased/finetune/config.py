"""What a fine-tuning run is asked to do: the model, the data, the recipe and where results go.

The defaults are the paper's ImageNet fine-tuning recipe (the authors' `main.py ... --lr .01 -ep 60 --finetune`,
README_IMAGENET.md): SGD with momentum 0.9 and weight decay 1e-4, learning rate 0.01 (a tenth of the 0.1 of
training from scratch) divided by 10 every 30 epochs, 60 epochs (the last two thirds of the 90 of training from
scratch), a global batch of 256 images, RandomResizedCrop(224) and a random horizontal flip, ImageNet
normalisation. Every knob is an option.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BATCH_NORM_MODES = ("batch", "sync", "frozen")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything a run needs (the command line's options); the defaults are the paper's recipe."""

    model: str
    data: Path
    name: str
    out: Path = Path("build/finetune")
    weights: str | None = None  # a baseline checkpoint for a torchvision/timm architecture
    filter_size: int = 4
    num_classes: int | None = None  # None: keep the baseline's classifier
    labels: Path | None = None
    val: Path | None = None
    val_limit: int | None = None
    # The recipe.
    epochs: int = 60
    batch_size: int = 256  # global: over all processes
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_step: int = 30
    lr_gamma: float = 0.1
    crop_size: int = 224
    augment: bool = True  # RandomResizedCrop + RandomHorizontalFlip; off: Resize + CenterCrop
    batch_norm: str = "batch"  # per process (the authors' DDP), SyncBatchNorm, or frozen running statistics
    seed: int = 0
    # How it runs (no effect on the numbers on the CPU).
    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    workers: int = 2
    save_every: int = 0  # steps between mid-epoch checkpoints (0: at each epoch's end only)
    max_steps: int | None = None  # stop (resumably) after this many steps in all
    overwrite: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        at_least = {"epochs": 1, "batch_size": 1, "lr_step": 1, "crop_size": 1, "save_every": 0,
                    "workers": 0, "max_steps": 1, "num_classes": 1, "val_limit": 1}  # fmt: skip
        for name, least in at_least.items():
            value = getattr(self, name)
            if value is not None and value < least:
                raise ValueError(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
        if not 1 <= self.filter_size <= 7:
            raise ValueError(f"--filter-size must be 1 to 7 (the blur's taps), got {self.filter_size}")
        for name, positive in (("lr", True), ("lr_gamma", True), ("momentum", False), ("weight_decay", False)):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (positive and value == 0):
                kind = "positive" if positive else "zero or positive"
                raise ValueError(f"--{name.replace('_', '-')} must be a finite {kind} number, got {value}")
        if self.batch_norm not in BATCH_NORM_MODES:
            raise ValueError(f"--batch-norm {self.batch_norm!r}: use one of {', '.join(BATCH_NORM_MODES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")

    def settings(self) -> dict[str, Any]:
        """What decides the numbers: a run resumes only with the same settings (how it runs may change)."""
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()
                if key not in _RUNTIME}  # fmt: skip


# Options that change how a run goes, not what it computes: a resumed run may change them.
_RUNTIME = {"out", "device", "compile", "workers", "save_every", "max_steps", "overwrite", "quiet", "epochs"}
