"""The gate of the gated served model (tests/support/models/gated.py): a folder through which a test holds the model's
forward passes in a TorchServe worker and lets them through one at a time, and sees which ran; and the archive's
model section. (tests/support/gate.py holds a whole evaluation or fine-tuning process at one batch instead.)"""

from __future__ import annotations

from pathlib import Path

from tests.support.models import circular_invariant
from tests.support.waiting import wait_until

GATED_MODEL = "gated"
# Beside the handler in the archive (gated.py imports circular_invariant from there, so tests do not import it).
EXTRA_FILES = [Path(circular_invariant.__file__), Path(circular_invariant.__file__).with_name("gated.py")]
OVERRIDES = {"handler": {"fold_batch_norm": False}}  # its forward pass has side effects: fx must not trace it


def model_spec(folder: Path) -> dict:
    """The `handler.model` section of model-config.yaml for the gated model held at `folder` (the circular-invariant
    model's weights load into it)."""
    return {"builder": "gated:Gated", "kwargs": {"gate": str(folder)}, "arch": "gated", "antialiased": False,
            "filter_size": None}  # fmt: skip


class ModelGate:
    """Holds the gated model's forward passes while closed; see tests/support/models/gated.py."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        (self.folder / "closed").touch()

    def open(self) -> None:
        (self.folder / "closed").unlink(missing_ok=True)
        (self.folder / "token").unlink(missing_ok=True)

    def held(self) -> tuple[int, int, int] | None:
        """(number, views, side) of the latest forward pass that waited at the gate, or None."""
        try:
            number, views, side = (self.folder / "waiting").read_text().split()
        except FileNotFoundError:
            return None
        return int(number), int(views), int(side)

    def latest(self) -> int:
        """The number of the latest forward pass held at the gate (0: none yet)."""
        held = self.held()
        return held[0] if held is not None else 0

    def next_held(self, after: int = 0, timeout_s: float = 60.0) -> tuple[int, int, int]:
        """The first forward pass held after forward pass number `after`."""

        def newer() -> tuple[int, int, int] | None:
            held = self.held()
            return held if held is not None and held[0] > after else None

        return wait_until(newer, timeout_s, f"a forward pass held at the gate after number {after}")

    def let_one_through(self) -> None:
        (self.folder / "token").touch()

    def forwards(self) -> list[tuple[int, int]]:
        """(views, side) of every forward pass that ran."""
        log = self.folder / "forwards.log"
        lines = log.read_text().split("\n") if log.exists() else []
        return [(int(views), int(side)) for views, side in (line.split() for line in lines if line)]
