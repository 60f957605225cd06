"""The circular-invariant classifier with forward passes a test can hold, for tests of how work is scheduled.

While the file `closed` exists in the gate folder (the builder's `gate` argument), each forward pass announces itself
in the file `waiting` ("<number> <views> <side>", written whole) and waits until the file `token` appears, which it
takes (deletes) before it runs: the test lets forward passes through one at a time. Every forward pass appends
"<views> <side>" to `forwards.log`. Served by tests/support/gate.py (which says how to build its archive); the
circular-invariant model's weights load into it."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import torch
from circular_invariant import CircularInvariant  # beside this file in the archive (tests/support/gate.py)

POLL_S = 0.005


class Gated(CircularInvariant):
    def __init__(self, gate: str) -> None:
        super().__init__()
        self.gate = Path(gate)
        self.count = itertools.count(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views, side = x.shape[0], x.shape[-1]
        if (self.gate / "closed").exists():
            waiting = self.gate / "waiting.tmp"
            waiting.write_text(f"{next(self.count)} {views} {side}")
            os.replace(waiting, self.gate / "waiting")
            while (self.gate / "closed").exists():
                try:
                    (self.gate / "token").unlink()
                    break
                except FileNotFoundError:
                    time.sleep(POLL_S)
        with open(self.gate / "forwards.log", "a") as log:
            log.write(f"{views} {side}\n")
        return super().forward(x)
