"""Files read only when they are regular files, never more than a stated size: a FIFO, a device (`/dev/zero`), a
socket or a directory named where a file is expected is refused at once, without blocking (a FIFO opened for
reading waits for a writer) and without reading endlessly."""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import Any, BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_regular(status: os.stat_result) -> str | None:
    """Why a file of this status is not read ('not a regular file: a FIFO'), or None for a regular file."""
    if stat.S_ISREG(status.st_mode):
        return None
    kind = next((name for test, name in _KINDS if test(status.st_mode)), "of an unknown type")
    return f"not a regular file: {kind}"


def _check_regular(status: os.stat_result) -> None:
    problem = not_regular(status)
    if problem:
        raise OSError(errno.EINVAL, problem)


def _nonblocking(path: str, flags: int) -> int:
    # A FIFO opened without O_NONBLOCK waits for a writer forever; O_NOCTTY keeps a terminal from becoming ours.
    return os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY)


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for binary reading; OSError (EINVAL, 'not a regular file: ...') unless it is a regular file."""
    _check_regular(os.stat(path))  # a FIFO or a device is never opened...
    file = open(path, "rb", opener=_nonblocking)  # noqa: SIM115 (returned to the caller, who closes it)
    try:
        _check_regular(os.fstat(file.fileno()))  # ...nor read, should the path have been swapped for one since
    except OSError:
        file.close()
        raise
    return file


def read_regular(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file `path`; OSError (EFBIG) when it holds more than `max_bytes` (also one that
    grows while it is read), or when it is not a regular file."""
    with open_regular(path) as file:
        size = os.fstat(file.fileno()).st_size
        data = file.read(max_bytes + 1) if size <= max_bytes else b""
    if size > max_bytes or len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", os.fspath(path))
    return data


class UnreadableJson(ValueError):
    """Why a JSON file cannot be read, as the end of a sentence that names the file: 'does not exist', 'cannot be
    read: not a regular file: a FIFO', 'is not readable JSON: ...'."""


def read_json(path: str | os.PathLike, max_bytes: int) -> Any:
    """The JSON document in the regular file `path` of at most `max_bytes`; UnreadableJson saying why not."""
    try:
        return json.loads(read_regular(path, max_bytes))
    except FileNotFoundError:
        raise UnreadableJson("does not exist") from None
    except OSError as error:
        raise UnreadableJson(f"cannot be read: {error.strerror or error}") from None
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError, JSONDecodeError, nesting beyond the parser's
        raise UnreadableJson(f"is not readable JSON: {error}") from None
