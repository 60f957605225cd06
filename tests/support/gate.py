"""A gate that holds the work of another process at a known step until the test opens it, so that what a test does
to work in progress (a signal, a kill, a second run beside it) happens in a certain window, not a likely one.

The test makes a `Gate` in a folder of its own and passes `gate.env()` to the process. The gated networks (in
tests/support/eval_models.py and tests/support/finetune.py) call `pass_gate` on their input at each forward pass. The
gate counts the passes of a batch (more than one view: an evaluation batch, a training step; not the one-image probe
a loader makes of a network's number of classes, nor the meta tensors of `antialias()`'s shape checks). The batch
after the first `after` ones writes the file `held` and waits until the test opens the gate (the file `open`); every
other forward pass goes through. Without the environment variable nothing is held.
`pass_gate` is a leaf of torch.fx graphs (`torch.fx.wrap` in the gated networks' modules), so it survives the
evaluation's batch-norm folding and `antialias()`'s rewrite.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from tests.support.waiting import wait_until

GATE_ENV = "ANTIALIASED_TEST_GATE"  # "<forward passes let through>:<folder>"
HELD, OPEN = "held", "open"
_passed = 0  # forward passes counted in this process


@dataclass(frozen=True)
class Gate:
    """Holds the gated process at its forward pass number `after` + 1 until `open()`."""

    folder: Path
    after: int

    def env(self) -> dict[str, str]:
        """The environment variable that arms the gate in a process started with it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return {GATE_ENV: f"{self.after}:{self.folder}"}

    def wait_until_held(self, process: subprocess.Popen, timeout_s: float = 300.0) -> None:
        """Until `process` is held at the gate; AssertionError if it exits first or the time runs out."""
        what = f"the gated process held after {self.after} forward passes"
        wait_until((self.folder / HELD).exists, timeout_s, what, process=process)

    def open(self) -> None:
        """Let the held process go on (and every later forward pass through)."""
        (self.folder / OPEN).touch()


def pass_gate(x: torch.Tensor) -> torch.Tensor:
    """`x`, once this process's gate (if armed) lets the forward pass through."""
    global _passed
    setting = os.environ.get(GATE_ENV)
    if not setting or x.is_meta or x.shape[0] < 2:
        return x
    after, _, folder = setting.partition(":")
    _passed += 1
    if _passed == int(after) + 1:
        (Path(folder) / HELD).touch()
        while not (Path(folder) / OPEN).exists():
            time.sleep(0.01)
    return x
