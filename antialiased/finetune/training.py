"""What one training process trains: the network (on its device, wrapped for DDP and torch.compile when asked), its
optimizer, scheduler and scaler, and where the run stands; their state as saved and restored."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from antialiased.finetune.config import FinetuneConfig
from antialiased.finetune.distributed import Processes
from antialiased.finetune.network import BuiltModel


class Training:
    """The model, optimizer, scheduler and scaler of one process, and where the run stands."""

    def __init__(self, config: FinetuneConfig, processes: Processes, built: BuiltModel) -> None:
        device = processes.device
        self.network = built.network.to(device)
        if device.type == "cuda":
            self.network = self.network.to(memory_format=torch.channels_last)
        if config.batch_norm == "sync":
            if device.type != "cuda":
                raise ValueError("--batch-norm sync needs GPUs (SyncBatchNorm runs on CUDA): use batch or frozen")
            self.network = nn.SyncBatchNorm.convert_sync_batchnorm(self.network)
        self.model: nn.Module = self.network
        if processes.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.model = DistributedDataParallel(self.network, device_ids=ids)
        if config.compile:
            self.model = torch.compile(self.model)
        self.optimizer = torch.optim.SGD(
            self.network.parameters(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.lr_step, config.lr_gamma)
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "float16")
        self.epoch, self.step_in_epoch, self.step = 0, 0, 0

    def state(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "settings": settings,
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "step": self.step,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch, self.step = state["epoch"], state["step_in_epoch"], state["step"]


def set_mode(network: nn.Module, batch_norm: str) -> None:
    """Training mode; with `frozen` batch norm, its running statistics are used and kept (its affine is trained)."""
    network.train()
    if batch_norm == "frozen":
        for module in network.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
