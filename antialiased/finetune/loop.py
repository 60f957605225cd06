"""One fine-tuning run, in one process or in each of torchrun's: set up, resume, train, validate, write the result.

The run folder is `<out>/<name>/`: state.pt (to resume), steps.jsonl, epochs.jsonl, progress.png, and at the end
the weights and registry.json in `<out>/`. Stopping (SIGTERM from a preempted node, Ctrl-C, or `--max-steps`)
saves the state at the end of the step under way; the same command resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from antialiased.datasets import DataError, Dataset, discover
from antialiased.evaluate import validate_network
from antialiased.finetune import distributed
from antialiased.finetune.batches import Batch, StepSampler, TrainImages, TrainTransform, loader
from antialiased.finetune.classes import run_classes
from antialiased.finetune.config import FinetuneConfig
from antialiased.finetune.distributed import Processes
from antialiased.finetune.logs import EPOCHS_FILE, RunLog, read_records
from antialiased.finetune.network import build_model
from antialiased.finetune.output import write_output
from antialiased.finetune.run_folder import hold_run_folder
from antialiased.finetune.state import STATE_FILE, load_state, not_a_state, save_state
from antialiased.finetune.training import Training, set_mode
from antialiased.networks import num_classes_of
from antialiased.weights.registry_file import check_name

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class Result:
    """How a run ended: finished (with its weights, and its registry entry's name when it has one) or stopped."""

    finished: bool
    steps: int
    weights: Path | None = None
    registered: str | None = None
    signal: int | None = None


class Diverged(ValueError):
    """The loss became NaN or infinite: the run stops and writes no weights."""


def finetune(config: FinetuneConfig) -> Result:
    """Run (or resume) the fine-tuning of `config` in this process: alone, or as one of torchrun's processes."""
    processes = distributed.start(config.device)
    try:
        with hold_run_folder(config.out, config.name) if processes.main else contextlib.nullcontext():
            return _run(config, processes)
    finally:
        distributed.stop()


def _precision(config: FinetuneConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bfloat16 on a GPU by default, float32 (None) on the CPU."""
    if config.precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if config.precision != "float32" and device.type != "cuda":
        raise ValueError(f"--precision {config.precision} needs a GPU: on the CPU training runs in float32")
    return {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[config.precision]


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _dataset(path: Path, label_map: dict[str, int] | None, limit: int | None = None) -> Dataset:
    dataset = discover(path, label_map=label_map).limited(limit)
    for skipped in dataset.skipped_folders:
        log.warning("%s: folder %s skipped: %s", path, skipped.name, skipped.reason)
    return dataset


def _run(config: FinetuneConfig, processes: Processes) -> Result:
    check_name(config.name)
    autocast = _precision(config, processes.device)
    if config.batch_size % processes.world_size:
        raise ValueError(
            f"--batch-size {config.batch_size} (global) must divide among {processes.world_size} processes"
        )
    classes = run_classes(config.data, config.labels, config.num_classes)
    dataset = _dataset(config.data, classes.label_map)
    if len(dataset.samples) < config.batch_size:
        raise DataError(f"{config.data} holds {len(dataset.samples)} images, fewer than a batch ({config.batch_size})")
    val = _dataset(config.val, classes.label_map, config.val_limit) if config.val else None
    _seed(config.seed)
    built = build_model(config.model, config.weights, config.filter_size, classes.num_classes, config.crop_size)
    outputs = num_classes_of(built.network, config.crop_size)
    top = max(sample.label for sample in dataset.samples)
    if top >= outputs or len(classes.label_set) != outputs:
        raise DataError(
            f"the model outputs {outputs} classes, but the labels go up to class index {top} "
            f"({dataset.class_name(top)}) of {len(classes.label_set)}: give --num-classes, or --labels mapping the "
            "folders to its classes"
        )
    training = Training(config, processes, built)
    settings = {**config.settings(), "data_files": dataset.fingerprint.__dict__}
    folder = config.out / config.name
    if config.overwrite and processes.main:
        (folder / STATE_FILE).unlink(missing_ok=True)
    processes.barrier()
    state = load_state(folder, settings)
    if state is not None:
        try:
            training.restore(state)
        except (RuntimeError, KeyError, ValueError, TypeError) as error:
            reason = f"it does not fit this run's model and optimizer: {str(error).splitlines()[0]}"
            raise not_a_state(folder / STATE_FILE, reason) from None
        if processes.main:
            log.info("resuming %s at epoch %d, step %d", folder, training.epoch + 1, training.step)
    run_log = RunLog(folder, training.step, training.epoch) if processes.main else None
    images = TrainImages(dataset.samples, TrainTransform(config.crop_size, config.augment), config.seed)
    sampler = StepSampler(images, config.batch_size, processes.rank, processes.world_size, config.seed)
    run = _Run(config, processes, training, run_log, settings, folder, autocast)
    stopped = run.train(images, sampler, val)
    if stopped is not None:
        return Result(False, training.step, signal=stopped or None)
    result = Result(True, training.step)
    if processes.main:
        figures = _last_validation(folder)
        path, registered = write_output(
            training.network, config.out, config.name, built, classes.label_set, figures, config.crop_size
        )
        result = Result(True, training.step, path, registered)
    processes.barrier()
    return result


def _last_validation(folder: Path) -> dict[str, Any] | None:
    validated = [record["val"] for record in read_records(folder / EPOCHS_FILE) if record.get("val")]
    return validated[-1] if validated else None


UNREADABLE_FILE = "unreadable.txt"


@contextlib.contextmanager
def _stop_requests() -> Iterator[list[int]]:
    """The stop signals received while in the block (SIGTERM, Ctrl-C): recorded, acted on at the end of a step."""
    received: list[int] = []
    previous = {number: signal.signal(number, lambda got, _: received.append(got)) for number in STOP_SIGNALS}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@dataclass
class _Run:
    """The training loop of one process, with what it writes (the main process) and how it stops."""

    config: FinetuneConfig
    processes: Processes
    training: Training
    run_log: RunLog | None
    settings: dict[str, Any]
    folder: Path
    autocast: torch.dtype | None

    def train(self, images: TrainImages, sampler: StepSampler, val: Dataset | None) -> int | None:
        """Train to the last epoch; None when finished, else the stop signal's number (0: --max-steps)."""
        config, training, main = self.config, self.training, self.processes.main
        bar = tqdm(total=config.epochs * sampler.steps, initial=training.step, unit="step", desc=config.name,
                   disable=config.quiet or not main, smoothing=0.1)  # fmt: skip
        unreadable: list[str] = []
        with _stop_requests() as received, bar:
            while training.epoch < config.epochs:
                sampler.set_epoch(training.epoch)
                sampler.start_step = training.step_in_epoch
                images.epoch = training.epoch
                set_mode(training.network, config.batch_norm)
                started = last = time.perf_counter()
                for batch in loader(images, sampler, config.workers):
                    loss = self.processes.mean(self._step(batch))
                    if not math.isfinite(loss):
                        raise Diverged(
                            f"the training loss is {loss} at step {training.step + 1} (epoch {training.epoch + 1}): "
                            "the run stopped and wrote no weights; try a lower --lr"
                        )
                    unreadable += batch.unreadable
                    training.step += 1
                    training.step_in_epoch += 1
                    now, seconds = time.perf_counter(), time.perf_counter() - last
                    last = now
                    self._log_step(loss, seconds, bar)
                    enough = config.max_steps is not None and training.step >= config.max_steps
                    if self.processes.any(bool(received) or enough):
                        self._save(unreadable)
                        return received[0] if received else 0
                    if config.save_every and training.step % config.save_every == 0:
                        self._save(unreadable)
                training.scheduler.step()
                training.epoch += 1
                training.step_in_epoch = 0
                self._end_epoch(val, unreadable, time.perf_counter() - started)
        return None

    def _step(self, batch: Batch) -> float:
        """One optimizer step on this process's part of the batch; its mean loss."""
        device, training = self.processes.device, self.training
        if batch.inputs is None:  # every image unreadable: a zero-weighted step keeps the processes in step
            inputs, labels, weight = (
                torch.zeros(1, 3, self.config.crop_size, self.config.crop_size),
                torch.zeros(1, dtype=torch.long),
                0.0,
            )
        else:
            inputs, labels, weight = batch.inputs, batch.labels, 1.0
        inputs = inputs.to(device, non_blocking=True)
        if device.type == "cuda":
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=self.autocast, enabled=self.autocast is not None):
            loss = F.cross_entropy(training.model(inputs).float(), labels.to(device)) * weight
        training.optimizer.zero_grad(set_to_none=True)
        training.scaler.scale(loss).backward()
        training.scaler.step(training.optimizer)
        training.scaler.update()
        return loss.item()

    def _log_step(self, loss: float, seconds: float, bar: tqdm) -> None:
        training = self.training
        rate = self.config.batch_size / seconds
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", images_s=f"{rate:.1f}", refresh=False)
        if self.run_log is not None:
            lr = training.optimizer.param_groups[0]["lr"]
            record = {"step": training.step, "epoch": training.epoch, "loss": loss, "lr": lr, "seconds": seconds}
            self.run_log.step({**record, "images_per_s": rate, "time": time.time()})

    def _save(self, unreadable: list[str]) -> None:
        """The state written (main process), with every process's unreadable images listed."""
        listed = self.processes.gather(unreadable)
        unreadable.clear()
        if self.processes.main:
            path = self.folder / UNREADABLE_FILE
            known = set(path.read_text().splitlines()) if path.is_file() else set()
            if set(listed) - known:
                log.warning("%d unreadable images skipped, listed in %s", len(set(listed) - known), path)
                path.write_text("".join(f"{line}\n" for line in sorted(known | set(listed))))
            save_state(self.folder, self.training.state(self.settings))
        self.processes.barrier()

    def _end_epoch(self, val: Dataset | None, unreadable: list[str], seconds: float) -> None:
        training = self.training
        figures = None
        if val is not None and self.processes.main:
            precision = "bfloat16" if self.autocast is torch.bfloat16 else "float32"
            figures = validate_network(training.network, val, device=self.processes.device, precision=precision,
                                       workers=self.config.workers)  # fmt: skip
        if self.run_log is not None:
            record = {"epoch": training.epoch - 1, "step": training.step, "seconds": seconds, "val": figures}
            self.run_log.epoch(record)
            if figures:
                log.info("epoch %d: top-1 %.2f%%, consistency %.2f%%", training.epoch,
                         figures["top1"]["value"], figures["consistency"]["value"])  # fmt: skip
        self._save(unreadable)
