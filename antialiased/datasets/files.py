"""A data tree walked and read safely, whatever it holds.

Links to directories are followed, as torchvision's ImageFolder follows them (a data set made of links into
another tree is common), but each real directory (st_dev, st_ino) is listed once: a link cycle (`loop -> ..`)
or a second link to a directory listed already is skipped and reported, so a walk ends on any tree and lists
each directory once. A link to a file is followed wherever it points (the data root is the user's choice, as
with ImageFolder); what it reaches must be a regular file not listed already: FIFOs, sockets and devices
(`zero.jpg -> /dev/zero`), broken links and second names of one file are skipped and reported. A file is
never opened by the walk, and `read_image_file` reads only a regular file, never more than the image limit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from antialiased.imagefile import ImageLimits, check_byte_size
from antialiased.regular_files import not_regular, open_regular

FileId = tuple[int, int]  # (st_dev, st_ino): one file or directory, whatever path reaches it
NESTED_FOLDER = "a folder here: only the files of the folder above it are read"  # a walk that is not recursive


@dataclass(frozen=True)
class Skipped:
    """A folder or file left out of the data set, and why."""

    name: str
    reason: str


def _file_id(status: os.stat_result) -> FileId:
    return status.st_dev, status.st_ino


@dataclass
class TreeWalk:
    """Walks directories under `root`, remembering what it has listed across calls, and what it skipped."""

    root: Path
    skipped: list[Skipped] = field(default_factory=list)
    _directories: dict[FileId, str] = field(default_factory=dict)  # -> where it was listed
    _files: dict[FileId, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._directories[_file_id(os.stat(self.root))] = "the data root"

    def files(
        self, directory: Path, wanted: Callable[[str], bool], *, recursive: bool = True
    ) -> list[tuple[Path, str]]:
        """The regular files under `directory` whose names are `wanted`, with their paths relative to the root, in
        ImageFolder's order (the sorted paths of the directories, then the sorted names in each); not `recursive`:
        the files of `directory` itself in name order, its folders skipped (and reported)."""
        listed: list[tuple[str, list[tuple[Path, str]]]] = []
        stack = [(directory, directory.relative_to(self.root).as_posix())]
        while stack:
            current, relpath = stack.pop()
            entries = self._list(current, relpath)
            if entries is None:
                continue
            subdirectories, files = [], []
            for entry in entries:
                path, name = current / entry.name, f"{relpath}/{entry.name}"
                if _is_directory(entry):
                    if recursive:
                        subdirectories.append((path, name))
                    else:
                        self._skip(name, NESTED_FOLDER)
                elif wanted(entry.name) and self.regular(path, name):
                    files.append((path, name))
            listed.append((str(current), files))
            stack.extend(reversed(subdirectories))  # depth first in sorted order: the first path to a directory wins
        return [file for _, files in sorted(listed, key=lambda entry: entry[0]) for file in files]

    def regular(self, path: Path, relpath: str) -> bool:
        """Whether `path` (`relpath` from the root) reaches a regular file not listed yet; if not, it is skipped
        with the reason."""
        try:
            status = os.stat(path)
        except OSError as error:
            return self._skip(relpath, f"cannot read: {error.strerror}")
        problem = not_regular(status)
        if problem:
            return self._skip(relpath, problem)
        first = self._files.setdefault(_file_id(status), relpath)
        if first != relpath:
            return self._skip(relpath, f"the same file as {first}, listed already")
        return True

    def _list(self, directory: Path, relpath: str) -> list[os.DirEntry] | None:
        """The entries of `directory` by name, or None (and skipped) if it was listed already or cannot be listed."""
        try:
            first = self._directories.setdefault(_file_id(os.stat(directory)), relpath)
            if first != relpath:
                self._skip(relpath, f"a directory listed already (as {first}): a link cycle or a second link to it")
                return None
            with os.scandir(directory) as entries:
                return sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            self._skip(relpath, f"cannot list: {error.strerror}")
            return None

    def _skip(self, relpath: str, reason: str) -> bool:
        self.skipped.append(Skipped(relpath, reason))
        return False


def _is_directory(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows links; False for a broken one
    except OSError:
        return False


def read_image_file(path: Path, limits: ImageLimits = ImageLimits()) -> bytes:
    """The bytes of the regular file `path`, never more than `limits.max_bytes` read.

    Raises OSError when `path` cannot be read or is not a regular file, ApiError image_too_large when the file is
    larger than the limit (also one that grows while it is read).
    """
    with open_regular(path) as file:
        check_byte_size(os.fstat(file.fileno()).st_size, limits)
        data = file.read(limits.max_bytes + 1)
    check_byte_size(len(data), limits)
    return data
