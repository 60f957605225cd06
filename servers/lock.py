"""One launcher per folder: an exclusive lock on a file in it, released by the operating system when the process
that holds it ends (however it ends), so a stale lock never needs removing by hand."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"


class FolderInUse(RuntimeError):
    """Another process holds the folder's lock; the message names the folder and that process."""


@contextlib.contextmanager
def folder_lock(folder: Path, user: str) -> Iterator[None]:
    """Hold `folder`'s lock for the block (creating the folder), or raise FolderInUse at once. `user` says who
    holds it, for the message another process gets (e.g. "make run")."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise FolderInUse(f"{folder} is in use by {owner}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{user} (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
