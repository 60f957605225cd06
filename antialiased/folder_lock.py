"""One process at a time in a folder: an exclusive lock on a file in it (a CLI's output folder, `make run`'s run
folder and model store).

A POSIX lock (lockf) on FOLDER/.lock: the system drops it when the process ends, however it ends, so a stale lock
never needs removing by hand; processes forked from the holder (a data loader's workers) do not hold it, unlike
flock's, so it is free as soon as the holder dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"


class FolderInUse(RuntimeError):
    """Another process holds the folder; `holder` names it ("process PID", "?" before it wrote its id)."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"{folder} is in use by {holder}")
        self.folder = folder
        self.holder = holder


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold `folder` (created if need be) for the block, or raise FolderInUse at once; OSError when the folder or its
    lock file cannot be used."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+") as file:
        try:
            fcntl.lockf(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):  # not "another process holds it"
                raise
            file.seek(0)
            raise FolderInUse(folder, file.read().strip() or "?") from None
        file.truncate(0)
        file.write(f"process {os.getpid()}\n")
        file.flush()
        try:
            yield
        finally:
            file.truncate(0)
