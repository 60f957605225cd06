"""One process or many: torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) read, the process group started
(NCCL on GPUs, gloo on CPUs), and the few collectives the loop needs. Without torchrun: one process, no group."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    """This process's place among the run's processes, and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this process logs, validates and writes files (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def mean(self, value: float) -> float:
        """The mean of `value` over the processes."""
        if not self.distributed:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.item() / self.world_size

    def any(self, flag: bool) -> bool:
        """Whether any process says `flag` (e.g. one was told to stop)."""
        if not self.distributed:
            return flag
        tensor = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(tensor)
        return bool(tensor.item())

    def gather(self, items: list) -> list:
        """Every process's `items`, joined (on every process), as a new list."""
        if not self.distributed:
            return list(items)
        gathered: list[list] = [[] for _ in range(self.world_size)]
        dist.all_gather_object(gathered, items)
        return [item for part in gathered for item in part]


def start(device: str = "auto") -> Processes:
    """This process's place from torchrun's variables, its process group started when there are several."""
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    chosen = torch.device("cuda", local_rank) if device == "cuda" else torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device here")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return Processes(rank, world_size, local_rank, chosen)


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
