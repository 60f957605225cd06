"""Ports and host names (free ports for side-by-side instances, how a client on this machine reaches a bind), and the
log tail of a child process."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path


def log_tail(path: Path | None, lines: int) -> str:
    """The last `lines` lines of a child process's log file ("" when there is none yet)."""
    if path is None or not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host.strip("[]"), 0))
        return sock.getsockname()[1]


def in_use(host: str, port: int) -> bool:
    """Whether a listener holds TCP `port` on `host` (binding it fails; a port in TIME_WAIT counts as free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError:
            return True
    return False


def url_host(host: str) -> str:
    """`host` as written in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def client_host(host: str) -> str:
    """Where a client on this machine reaches a listener bound to `host` (a wildcard bind answers on loopback),
    as written in a URL."""
    return url_host("127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host)


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or 'localhost') is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
