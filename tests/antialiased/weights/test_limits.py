"""Weight downloads and registry reads are bounded: a download brings at most the entry's size (or the stated
MAX_DOWNLOAD_BYTES) within a total deadline, whatever the URL names (`file:///dev/zero`, a FIFO, an HTTP server
that streams forever, drips, goes silent, announces a terabyte or sends gzip), each a clear WeightsUnavailableError
with nothing left in the cache; the registry file is read only if it is a regular file of bounded size (a FIFO,
`/dev/zero`, a directory, a huge file: a RegistryError at once)."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from antialiased.weights import RegistryError, WeightsUnavailableError, fetch, get_entry
from antialiased.weights import download as download_module
from antialiased.weights.download import TIMEOUT_ENV
from antialiased.weights.fetch import CACHE_ENV, MIRROR_ENV
from antialiased.weights.registry import MAX_REGISTRY_BYTES, REGISTRY_ENV, WeightsEntry, register, unregister

MiB = 1024 * 1024


class _Hostile(http.server.BaseHTTPRequestHandler):
    """One way of misbehaving per path; each stops when the client goes away (or the test ends)."""

    def do_GET(self) -> None:
        kind = self.path.strip("/").split("-")[0]
        self.send_response(200)
        if kind == "endless":  # no length: bytes until the client hangs up
            self.end_headers()
            self._send_until_gone(b"\0" * 65536, pause_s=0)
        elif kind == "drip":  # a length it will never reach, one byte at a time
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self._send_until_gone(b"\0", pause_s=0.05)
        elif kind == "silent":  # headers, then nothing
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            self.server.stopped.wait(60)
        elif kind == "huge":  # announces a terabyte
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self.server.stopped.wait(60)
        elif kind == "gzip":  # compressed bytes that would inflate
            body = b"\x1f\x8b" + b"\0" * 100
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _send_until_gone(self, chunk: bytes, pause_s: float) -> None:
        try:
            while not self.server.stopped.is_set():
                self.wfile.write(chunk)
                self.wfile.flush()
                self.server.sent += len(chunk)
                if pause_s:
                    time.sleep(pause_s)
        except OSError:  # the client has gone
            pass

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    server.stopped, server.sent = threading.Event(), 0
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.stopped.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache, no mirror, no registry file."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def entry() -> Iterator[callable]:
    """Registers an entry for a URL (and a size), removed after the test."""
    names = []

    def register_url(url: str, size: int | None = None) -> WeightsEntry:
        name = f"hostile{len(names)}"
        names.append(name)
        return register(WeightsEntry(name, url, "0123abcd", "resnet18", 4, size=size))

    yield register_url
    for name in names:
        unregister(name)


def _refused(name: str, cache: Path, *problems: str) -> str:
    with pytest.raises(WeightsUnavailableError) as caught:
        fetch(name, progress=False)
    message = str(caught.value)
    assert message.startswith(f"cannot download {name} from ") and all(problem in message for problem in problems)
    assert list(cache.iterdir()) == [], "nothing half-written is left in the cache"
    return message


def test_a_file_url_of_dev_zero_in_a_registry_file_is_refused_at_once(cache, tmp_path, monkeypatch) -> None:
    registry = tmp_path / "registry.json"
    fields = {"name": "zeros", "url": "file:///dev/zero", "sha256_prefix": "0123abcd", "arch": "resnet18"}
    registry.write_text(json.dumps([{**fields, "filter_size": 4}]))
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    _refused("zeros", cache, "/dev/zero: not a regular file: a character device")


def test_a_file_url_of_a_fifo_is_refused_without_waiting_for_a_writer(cache, tmp_path, entry) -> None:
    os.mkfifo(tmp_path / "pipe.pth")
    _refused(entry((tmp_path / "pipe.pth").as_uri()).name, cache, "not a regular file: a FIFO")


def test_a_file_larger_than_the_entry_says_is_refused(cache, tmp_path, entry) -> None:
    (tmp_path / "big.pth").write_bytes(b"\0" * 3000)
    _refused(entry((tmp_path / "big.pth").as_uri(), size=2000).name, cache, "3000 bytes, more than the 2000")


def test_an_endless_stream_stops_at_the_entrys_size(cache, hostile, entry) -> None:
    _refused(entry(f"{hostile.url}endless-0123abcd.pth", size=MiB).name, cache, f"more than {MiB} bytes arrived")
    assert hostile.sent < 64 * MiB


def test_an_endless_stream_stops_at_the_stated_limit_mocked_smaller(cache, hostile, entry, monkeypatch) -> None:
    """Without a size in the entry the stated limit holds; made 4 MiB here instead of 2 GiB of disk and time."""
    monkeypatch.setattr(download_module, "MAX_DOWNLOAD_BYTES", 4 * MiB)
    _refused(entry(f"{hostile.url}endless-0123abcd.pth").name, cache, f"more than {4 * MiB} bytes arrived")


def test_a_declared_length_beyond_the_limit_is_refused_before_the_body(cache, hostile, entry) -> None:
    _refused(entry(f"{hostile.url}huge-0123abcd.pth").name, cache, f"{10**12} bytes, more than the {2 * 1024**3}")


def test_a_dripping_server_is_cut_at_the_total_deadline(cache, hostile, entry, monkeypatch) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "1.5")
    start = time.monotonic()
    _refused(entry(f"{hostile.url}drip-0123abcd.pth").name, cache, "not finished within 1.5 s", TIMEOUT_ENV)
    assert time.monotonic() - start < 10, "the deadline is total, not per read"


def test_a_silent_server_is_cut_at_the_deadline(cache, hostile, entry, monkeypatch) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "1")
    _refused(entry(f"{hostile.url}silent-0123abcd.pth").name, cache, "no bytes for 1 s")


def test_a_compressed_answer_is_refused_not_inflated(cache, hostile, entry) -> None:
    _refused(entry(f"{hostile.url}gzip-0123abcd.pth").name, cache, "sent as gzip")


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_a_download_timeout_that_is_no_duration_is_refused(cache, hostile, entry, monkeypatch, value) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, value)
    _refused(entry(f"{hostile.url}gzip-0123abcd.pth").name, cache, f"{TIMEOUT_ENV}={value!r} is not a positive")


def test_an_entry_size_that_is_no_byte_count_is_refused() -> None:
    for size in (0, -1, 1.5, True, "100"):
        with pytest.raises(RegistryError, match=r"size .* must be a positive number of bytes"):
            WeightsEntry("x", "file:///x.pth", "0123abcd", "resnet18", 4, size=size)


def _huge(path: Path) -> Path:
    with path.open("wb") as file:
        file.truncate(MAX_REGISTRY_BYTES + 1)  # sparse: no disk used
    return path


@pytest.mark.parametrize(
    ("registry", "problem"),
    [
        (lambda tmp: Path("/dev/zero"), "cannot be read: not a regular file: a character device"),
        (lambda tmp: tmp, "cannot be read: not a regular file: a directory"),
        (
            lambda tmp: (os.mkfifo(tmp / "fifo.json"), tmp / "fifo.json")[1],
            "cannot be read: not a regular file: a FIFO",
        ),
        (lambda tmp: _huge(tmp / "huge.json"), f"cannot be read: larger than {MAX_REGISTRY_BYTES} bytes"),
        (lambda tmp: tmp / "absent.json", "does not exist"),
    ],
    ids=["dev-zero", "directory", "fifo", "huge", "absent"],
)
def test_a_registry_file_that_is_no_small_regular_file_is_refused_at_once(registry, problem, tmp_path, monkeypatch):
    path = registry(tmp_path)
    monkeypatch.setenv(REGISTRY_ENV, str(path))
    with pytest.raises(RegistryError) as caught:
        get_entry("resnet50_lpf4")
    assert str(caught.value) == f"{REGISTRY_ENV}={path}: the JSON registry {problem}"
