"""The run folder OUT/NAME, held by one fine-tuning run at a time (`antialiased.folder_lock`, as the evaluation holds
its output folder): a second run into it fails at once, naming the process that holds it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from antialiased.folder_lock import FolderInUse, folder_lock


@contextlib.contextmanager
def hold_run_folder(out: Path, name: str) -> Iterator[None]:
    """Hold the run folder OUT/NAME for the run (`antialiased.folder_lock`): a second run into it fails at once."""
    if out.is_symlink() and not out.exists():
        raise ValueError(f"--out {out} is a link to {os.readlink(out)}, which does not exist")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is not a directory")
    folder = out / name
    held = contextlib.ExitStack()
    try:
        held.enter_context(folder_lock(folder))
    except FolderInUse as error:
        raise ValueError(f"another fine-tuning run ({error.holder}) is running in {folder}: wait for it to end, "
                         "or use another --out or --name") from None  # fmt: skip
    except OSError as error:
        raise ValueError(f"cannot use {folder} as the run folder: {error.strerror or error}") from None
    with held:
        yield
