"""One checkpoint download, bounded: at most `limit` bytes (the entry's size where the registry knows it, else
MAX_DOWNLOAD_BYTES), within a total deadline (ANTIALIASED_DOWNLOAD_TIMEOUT_S) and with no more than STALL_S
without a byte. An http(s) URL is streamed with httpx (the environment's proxies and the system's certificates, as
urllib would use); a file URL is read only if it names a regular file (not a FIFO, nor `/dev/zero`). The caller
owns the destination file and removes it on any failure."""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import httpx
from tqdm import tqdm

from antialiased.regular_files import open_regular

TIMEOUT_ENV = "ANTIALIASED_DOWNLOAD_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 900.0  # the largest published file (VGG16, about 550 MB) at under 1 MB/s
STALL_S = 60.0  # the longest wait for the next bytes
MAX_DOWNLOAD_BYTES = 2 * 1024**3  # an entry without a size: none of the published files comes near
_CHUNK = 1024 * 1024


class DownloadError(Exception):
    """A download refused or cut off: `reason` says why (too large, too slow, the server's status, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def timeout_s() -> float:
    """The total deadline of one download: ANTIALIASED_DOWNLOAD_TIMEOUT_S, else DEFAULT_TIMEOUT_S."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise DownloadError(f"{TIMEOUT_ENV}={text!r} is not a positive number of seconds")
    return value


def download(url: str, destination: Path, size: int | None, progress: bool) -> None:
    """`url`'s bytes into the new file `destination`; DownloadError when they are more than `size` (the entry's,
    else MAX_DOWNLOAD_BYTES), take longer than the deadline, or cannot be read; OSError when `destination` cannot
    be written."""
    budget = _Budget(MAX_DOWNLOAD_BYTES if size is None else size, timeout_s())
    scheme = urlsplit(url).scheme
    if scheme not in ("file", "http", "https"):
        raise DownloadError(f"{scheme or 'no'} scheme: only http(s) and file URLs are downloaded")
    with destination.open("xb") as out:
        if scheme == "file":
            _copy_file(Path(unquote(urlsplit(url).path)), out, budget, progress)
        else:
            _stream(url, out, budget, progress)


class _Budget:
    """How many bytes a download may bring, and until when."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.deadline = time.monotonic() + seconds

    def check_size(self, size: int) -> None:
        if size > self.limit:
            raise DownloadError(f"{size} bytes, more than the {self.limit} this checkpoint may have")

    def copy(self, chunks: Iterable[bytes], out: BinaryIO, bar: tqdm, declared: int | None = None) -> None:
        """Writes `chunks` to `out` until they end, refusing more than `limit` bytes and anything past the deadline."""
        written = 0
        with bar:
            for chunk in chunks:
                written += len(chunk)
                if written > self.limit:
                    raise DownloadError(f"more than {self.limit} bytes arrived, the most this checkpoint may have")
                if time.monotonic() > self.deadline:
                    raise DownloadError(f"not finished within {self.seconds:g} s ({written} bytes; see {TIMEOUT_ENV})")
                out.write(chunk)
                bar.update(len(chunk))
        if declared is not None and written < declared:
            raise DownloadError(f"interrupted: {written} of the {declared} bytes announced arrived")


def _copy_file(path: Path, out: BinaryIO, budget: _Budget, progress: bool) -> None:
    try:
        source = open_regular(path)
    except OSError as exc:
        raise DownloadError(f"{path}: {exc.strerror or exc}") from None
    with source:
        size = os.fstat(source.fileno()).st_size
        budget.check_size(size)
        budget.copy(iter(lambda: source.read(_CHUNK), b""), out, _bar(size, progress))


def _stream(url: str, out: BinaryIO, budget: _Budget, progress: bool) -> None:
    wait = min(STALL_S, budget.seconds)
    try:
        with (
            httpx.Client(verify=ssl.create_default_context(), follow_redirects=True, timeout=wait) as client,
            client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response,
        ):
            if response.status_code != 200:
                raise DownloadError(f"HTTP {response.status_code} {response.reason_phrase}")
            if response.headers.get("content-encoding", "identity") != "identity":  # a gzip bomb is not inflated
                raise DownloadError(f"sent as {response.headers['content-encoding']}, not as the file's own bytes")
            declared = response.headers.get("content-length", "")
            size = int(declared) if declared.isascii() and declared.isdigit() else None
            if size is not None:
                budget.check_size(size)
            budget.copy(response.iter_raw(), out, _bar(size, progress), size)  # as they arrive
    except httpx.ConnectError as exc:
        raise DownloadError(f"cannot connect ({exc})") from None
    except httpx.TimeoutException:
        raise DownloadError(f"no bytes for {wait:g} s") from None
    except httpx.HTTPError as exc:
        raise DownloadError(f"interrupted ({type(exc).__name__}: {exc})") from None


def _bar(total: int | None, progress: bool) -> tqdm:
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress)
