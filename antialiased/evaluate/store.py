"""The run directory: written as results come, so that a killed run resumes without losing or redoing work.

    run.json            what is evaluated (data fingerprint, models and their weights' sha256, protocol):
                        a run resumes only into a directory that evaluates the same thing
    shards/NNNNN.parquet   per-image rows of images [N * shard_size, (N + 1) * shard_size), all models
    sessions.jsonl      one line per session: engine, images computed, time
    images.parquet, *.png, report.html   the outputs, made when every shard is there
    results.json        the figures; written last, so it marks a finished run
    .lock               locked by the run in progress: a second run into the directory fails at once

Every file appears by an atomic rename of a finished temporary file beside it: a file that is there is
complete. A shard damaged all the same (a full disk, a copy cut short, a hand edit) is reported and computed
again by the next session.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from antialiased.folder_lock import FolderInUse, folder_lock
from antialiased.imagefile import error_text

log = logging.getLogger(__name__)
RESULTS_FILE = "results.json"
MANIFEST_FILE = "run.json"
SESSIONS_FILE = "sessions.jsonl"
IMAGES_FILE = "images.parquet"
REPORT_FILE = "report.html"
PLOT_FILES = ("accuracy_consistency.png", "diagonal.png", "fractional.png")

# One row per (model, image) (per (model, sequence) for the sequence measure). Result columns are null for an
# unreadable image (error says why) and for what the protocol does not measure.
SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("index", pa.int64()),
        ("relpath", pa.string()),
        ("label", pa.int64()),
        ("error", pa.string()),
        ("top1", pa.int64()),
        ("correct1", pa.bool_()),
        ("correct5", pa.bool_()),
        ("p_true", pa.float64()),
        ("shift_offsets", pa.list_(pa.list_(pa.int64()))),
        ("shift_agree", pa.list_(pa.bool_())),
        ("diag_top1", pa.list_(pa.int64())),
        ("diag_correct1", pa.list_(pa.bool_())),
        ("diag_correct5", pa.list_(pa.bool_())),
        ("diag_p_true", pa.list_(pa.float64())),
        ("diag_p_other", pa.list_(pa.float64())),
        ("circular_agree", pa.list_(pa.bool_())),
        ("wc_correct", pa.bool_()),
        ("wc_kept", pa.float64()),
        ("wc_flip", pa.bool_()),
        ("frac_agree", pa.list_(pa.bool_())),
        # a sequence (the sequence measure; label null): antialiased.sequences' metrics, each frame's top-1, the curve
        ("seq_frames", pa.int64()),
        ("seq_flip_rate", pa.float64()),
        ("seq_top5_distance", pa.float64()),
        ("seq_wobble", pa.float64()),
        ("seq_majority", pa.int64()),
        ("seq_majority_share", pa.float64()),
        ("seq_top1", pa.list_(pa.int64())),
        ("seq_curve", pa.list_(pa.float64())),
        # ImageNet-P's figures of the sequence (antialiased.sequences.imagenet_p) at each difficulty it is scored at
        ("seq_perturbation", pa.string()),
        ("seq_difficulty", pa.list_(pa.int64())),
        ("seq_flip_probability", pa.list_(pa.float64())),
        ("seq_top5", pa.list_(pa.float64())),
        ("seq_zipf", pa.list_(pa.float64())),
    ]
)


class RunDirectoryError(ValueError):
    """The output directory holds another run, or another process is running in it."""


@contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it is synced and renamed to `path`, else removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: Path, data: Any) -> None:
    with atomic_file(path) as file:
        json.dump(data, file, indent=2)


class RunStore:
    """The run directory `root` for images in shards of `shard_size`."""

    def __init__(self, root: Path, shard_size: int) -> None:
        if shard_size < 1:
            raise ValueError(f"--shard-size must be at least 1, got {shard_size}")
        self.root = root
        self.shard_size = shard_size
        self.shards_dir = root / "shards"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run directory while the block runs (`antialiased.folder_lock`); RunDirectoryError at once if
        another process holds it."""
        held = ExitStack()
        try:
            held.enter_context(folder_lock(self.root))
        except FolderInUse as error:
            message = f"another evaluation ({error.holder}) is running in {self.root}: wait for it to end"
            raise RunDirectoryError(f"{message}, or use another --out") from None
        except OSError as error:
            raise RunDirectoryError(f"cannot use {self.root} as the run directory: {error.strerror}") from None
        with held:
            yield

    def open(self, manifest: dict[str, Any], overwrite: bool = False) -> None:
        """Start or resume the run that `manifest` describes; RunDirectoryError if the directory holds another."""
        path = self.root / MANIFEST_FILE
        if path.is_file() and not overwrite:
            existing = json.loads(path.read_text())
            if existing != manifest:
                changed = sorted(k for k in set(existing) | set(manifest) if existing.get(k) != manifest.get(k))
                raise RunDirectoryError(
                    f"{self.root} holds a run of other settings ({', '.join(changed)} differ): "
                    "use another --out, or --overwrite to discard it"
                )
            return
        if overwrite:
            outputs = (RESULTS_FILE, SESSIONS_FILE, IMAGES_FILE, REPORT_FILE, *PLOT_FILES)
            for stale in [*self.shards_dir.glob("*.parquet"), *(self.root / name for name in outputs)]:
                stale.unlink(missing_ok=True)
        write_json(path, manifest)

    def shard_path(self, shard: int) -> Path:
        return self.shards_dir / f"{shard:05d}.parquet"

    def shard_of(self, index: int) -> int:
        return index // self.shard_size

    def shard_indices(self, shard: int, images: int) -> range:
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, images))

    def pending_shards(self, images: int, models: int) -> set[int]:
        """The shards of `images` images (rows for `models` models each) that no earlier session has written whole.

        A shard that cannot be read or holds other rows is logged as a warning naming its file, and is pending.
        """
        shards = range((images + self.shard_size - 1) // self.shard_size)
        return {shard for shard in shards if not self._whole(shard, images, models)}

    def _whole(self, shard: int, images: int, models: int) -> bool:
        path = self.shard_path(shard)
        if not path.is_file():
            return False
        expected = self.shard_indices(shard, images)
        try:
            indices = pq.read_table(path, schema=SCHEMA).column("index").to_pylist()  # every column: all is checked
        except (OSError, pa.ArrowException) as error:
            problem = f"it cannot be read ({error_text(error)})"
        else:
            if sorted(indices) == sorted(list(expected) * models):
                return True
            problem = f"its rows are not those of images {expected.start}-{expected.stop - 1}"
        log.warning("the shard %s is damaged: %s; it is computed again", path, problem)
        return False

    def write_shard(self, shard: int, rows: list[dict[str, Any]]) -> None:
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        with atomic_file(self.shard_path(shard), "wb") as file:
            pq.write_table(table, file)

    def read_rows(self) -> pa.Table:
        """Every shard's rows, in image order."""
        tables = [pq.read_table(path, schema=SCHEMA) for path in sorted(self.shards_dir.glob("*.parquet"))]
        return pa.concat_tables(tables).sort_by([("index", "ascending"), ("model", "ascending")])

    def log_session(self, entry: dict[str, Any]) -> None:
        with open(self.root / SESSIONS_FILE, "a") as file:
            file.write(json.dumps(entry) + "\n")

    def sessions(self) -> list[dict[str, Any]]:
        path = self.root / SESSIONS_FILE
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []

    def write_output(self, name: str, write: Callable[[IO[Any]], None], mode: str = "w") -> Path:
        """Write an output file atomically with `write(file)`."""
        path = self.root / name
        with atomic_file(path, mode) as file:
            write(file)
        return path


class ShardWriter:
    """Collects per-image rows as engines yield them (in any order) and writes each shard once it is whole."""

    def __init__(self, store: RunStore, images: int, pending: set[int]) -> None:
        self.store = store
        self.images = images
        self.pending = {shard: set(store.shard_indices(shard, images)) for shard in pending}
        self.rows: dict[int, list[dict[str, Any]]] = {shard: [] for shard in pending}

    def add(self, index: int, rows: list[dict[str, Any]]) -> None:
        shard = self.store.shard_of(index)
        self.rows[shard].extend(rows)
        self.pending[shard].discard(index)
        if not self.pending[shard]:
            self.store.write_shard(shard, self.rows.pop(shard))
            del self.pending[shard]
