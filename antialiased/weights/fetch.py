"""Download registered checkpoints into a local cache, verified by their sha256 prefix.

The cache directory is ANTIALIASED_CACHE_DIR, else `$XDG_CACHE_HOME/antialiased` (default
`~/.cache/antialiased`). ANTIALIASED_WEIGHTS_MIRROR, a base URL, replaces every entry's host and
path (the file name is kept), for machines behind a proxy or with an internal mirror. A file placed
in the cache by hand under the entry's file name is used once its hash checks out. Downloads are bounded in size
and time (`antialiased.weights.download`).
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from antialiased.weights.checkpoint import sha256_file
from antialiased.weights.download import DownloadError, download
from antialiased.weights.errors import HashMismatchError, WeightsError, WeightsUnavailableError
from antialiased.weights.registry import WeightsEntry, get_entry

CACHE_ENV = "ANTIALIASED_CACHE_DIR"
MIRROR_ENV = "ANTIALIASED_WEIGHTS_MIRROR"

log = logging.getLogger(__name__)


def resolve_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The directory that holds downloaded checkpoints: `override`, else the environment, else the user cache."""
    if override is not None:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "antialiased"


def download_url(entry: WeightsEntry) -> str:
    """Where `entry` is downloaded from: its own URL, or the mirror's base URL plus its file name."""
    mirror = os.environ.get(MIRROR_ENV)
    return f"{mirror.rstrip('/')}/{entry.file_name}" if mirror else entry.url


def _hash_problem(path: str | os.PathLike, entry: WeightsEntry) -> str | None:
    digest = sha256_file(path)[: len(entry.sha256_prefix)]
    return None if digest == entry.sha256_prefix else f"sha256 starts with {digest}, expected {entry.sha256_prefix}"


def local_file(entry: WeightsEntry) -> Path | None:
    """The path of a `file:` URL's file (whether it exists or not); None for a download."""
    parts = urlsplit(entry.url)
    return Path(url2pathname(parts.path)) if parts.scheme == "file" else None


def verify_file(path: str | os.PathLike, entry: WeightsEntry) -> None:
    """Raise `HashMismatchError` unless the file's sha256 starts with the entry's prefix."""
    problem = _hash_problem(path, entry)
    if problem:
        raise HashMismatchError(f"{os.fspath(path)} is not {entry.name}: {problem}")


def _usable_in_place(local: Path, entry: WeightsEntry) -> bool:
    """A regular file no larger than the entry's size; anything else goes the download's way and is refused there
    with the download's reason (not a regular file, more bytes than the entry says)."""
    return local.is_file() and (entry.size is None or local.stat().st_size <= entry.size)


def fetch(name: str, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The local path of checkpoint `name`, downloading and verifying it unless a verified copy is cached; a
    `file:` URL's file (yours: a fine-tuning or export output) is verified and used where it is, not copied.

    Raises UnknownWeightsError, WeightsUnavailableError (offline, HTTP error, interrupted transfer)
    or HashMismatchError (the downloaded file is deleted).
    """
    entry = get_entry(name)
    local = local_file(entry)
    if local is not None and _usable_in_place(local, entry) and not os.environ.get(MIRROR_ENV):
        verify_file(local, entry)
        return local
    directory = resolve_cache_dir(cache_dir)
    path = directory / entry.file_name
    if path.is_file():
        try:
            verify_file(path, entry)
            return path
        except HashMismatchError as exc:
            log.warning("discarding the cached file: %s", exc)
            try:
                path.unlink()
            except OSError:
                raise exc from None  # a read-only cache: the user must replace the file
    url = download_url(entry)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"cannot create the cache directory {directory}: {exc.strerror}") from None
    if not os.access(directory, os.W_OK):  # a read-only volume (Kubernetes): nothing can be downloaded into it
        raise WeightsUnavailableError(
            f"{entry.name} is not in the read-only cache {directory}: place {entry.file_name} there (its sha256 "
            "is checked), or fetch it into the volume first (python -m antialiased.weights fetch)"
        )
    # Downloaded beside the final name and renamed once verified: a cut or refused download leaves nothing.
    downloaded = directory / f".{entry.file_name}.{uuid.uuid4().hex}.download"
    try:
        _download(url, downloaded, entry, path, progress)
        problem = _hash_problem(downloaded, entry)
        if problem:
            raise HashMismatchError(
                f"{entry.name} downloaded from {url}: {problem}; the file was not kept "
                "(a wrong file on the server, or a transfer cut short)"
            )
        os.replace(downloaded, path)
    finally:
        downloaded.unlink(missing_ok=True)
    return path


def _download(url: str, destination: Path, entry: WeightsEntry, cached_path: Path, progress: bool) -> None:
    try:
        download(url, destination, entry.size, progress)
    except DownloadError as exc:
        raise WeightsUnavailableError(
            f"cannot download {entry.name} from {url}: {exc.reason}; behind a proxy or offline, set {MIRROR_ENV} to "
            f"a base URL that serves {entry.file_name}, or place the file at {cached_path}"
        ) from None
    except OSError as exc:
        raise WeightsError(f"cannot write {destination}: {exc.strerror or exc}") from None
