"""A real HTTP server on 127.0.0.1 that plays the weights host (there is no internet here: the official host is
replaced through the mirror setting, as a user behind a proxy would do), and registry entries for the checkpoints
the tests put on it. The weights tests' fixtures are in tests/antialiased/weights/conftest.py."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import struct
import threading
from pathlib import Path

import torch

from antialiased.weights import sha256_file
from antialiased.weights.load import load_pretrained
from antialiased.weights.registry import WeightsEntry, register, unregister

REPO_ROOT = Path(__file__).resolve().parents[2]
FAR_AWAY = "https://weights.example.invalid/checkpoints/"  # never contacted: the mirror replaces it


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; a file named in `server.cut_short` announces its full size but stops halfway,
    closing the connection ("close") or resetting it ("reset")."""

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        cut = self.server.cut_short.get(name)
        if cut is None:
            super().do_GET()
            return
        body = (Path(self.directory) / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True
        if cut == "reset":  # linger 0: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def log_message(self, format: str, *args) -> None:
        self.server.requests.append(self.path)


class LocalMirror:
    """A real HTTP server on 127.0.0.1 that plays the weights host."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory))
        )
        self.httpd.requests, self.httpd.cut_short = [], {}
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def serve(self, source: Path, name: str | None = None) -> Path:
        """Put a copy of `source` on the server under `name` (default: its own name)."""
        return Path(shutil.copyfile(source, self.directory / (name or source.name)))

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


def closed_port_url() -> str:
    """A URL of a local port where nothing listens: a mirror that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def entry_for(path: Path, arch: str, filter_size: int | None, name: str | None = None) -> WeightsEntry:
    return WeightsEntry(
        name=name or path.name.split("-")[0],
        url=FAR_AWAY + path.name,
        sha256_prefix=sha256_file(path)[:8],
        arch=arch,
        filter_size=filter_size,
        finetuned=True,
    )


def load_pretrained_as(path: Path, arch: str, filter_size: int | None, name: str | None = None) -> torch.nn.Module:
    """`load_pretrained` of the mirror's file `path`, registered as `arch` (and `filter_size`) for this call only."""
    entry = register(entry_for(path, arch=arch, filter_size=filter_size, name=name))
    try:
        return load_pretrained(entry.name, progress=False)
    finally:
        unregister(entry.name)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def file_fields(path: Path) -> dict:
    return {
        "name": path.name.split("-")[0],
        "url": FAR_AWAY + path.name,
        "sha256_prefix": sha256_file(path)[:8],
        "arch": "resnet18",
        "filter_size": 4,
    }
