"""Client connections are bounded: a real `python -m service` on 127.0.0.1 drops clients that do not finish their
request headers in time (half sent, or trickled) while answering others, and answers a request beyond its limit of
open connections with a prompt 503, but liveness with 200 (a flood of connections must not restart a healthy pod).
Real sockets; TorchServe is down (a closed port): no request here reaches it."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from launcher.ports import free_port
from launcher.probe_service import ServiceProcess
from tests.support.containers import LISTEN
from tests.support.service import start_test_service
from tests.support.waiting import wait_until

HEADER_TIMEOUT_S = 3.0
MAX_OPEN = 60
SLOW_CLIENTS = 50  # fewer than MAX_OPEN: others are still answered while they hang
MARGIN_S = 2.0  # scheduling on a loaded test machine
PROMPT_S = 1.5  # a refusal at once: well within the timeouts a waiting request would run into, on a loaded machine
ANSWERS = 3  # requests of another client answered while the slow ones hang
HALF_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag"
FLOOD_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"  # the attack's: headers never finished
FLOOD = MAX_OPEN + 40
PATIENT_HEADER_TIMEOUT_S = 120.0  # the flood stays open for the whole test


def _guarded(tmp_path: Path, header_timeout_s: float) -> ServiceProcess:
    env = {"PROBE_HEADER_TIMEOUT_S": str(header_timeout_s), "PROBE_MAX_OPEN_CONNECTIONS": str(MAX_OPEN)}
    return start_test_service(f"http://127.0.0.1:{free_port()}", tmp_path / "service.log", **env)


@pytest.fixture
def guarded_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    with _guarded(tmp_path, HEADER_TIMEOUT_S) as running:
        yield running


@pytest.fixture
def patient_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """The same limit of open connections, and a header deadline that outlasts the test."""
    with _guarded(tmp_path, PATIENT_HEADER_TIMEOUT_S) as running:
        yield running


def _address(service: ServiceProcess) -> tuple[str, int]:
    host, port = service.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@contextlib.contextmanager
def _sockets(service: ServiceProcess, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    sockets = []
    try:
        for _ in range(count):
            connection = socket.create_connection(_address(service), timeout=10)
            if first_bytes:
                connection.sendall(first_bytes)
            sockets.append(connection)
        yield sockets
    finally:
        for connection in sockets:
            connection.close()


def _closed_by_server(connection: socket.socket, deadline: float) -> bool:
    """Whether the server closes `connection` (EOF or reset, nothing answered) before `deadline`."""
    connection.settimeout(max(deadline - time.monotonic(), 0.01))
    try:
        return connection.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_clients_that_send_half_their_headers_are_dropped_in_time_while_others_are_answered(
    guarded_service: ServiceProcess,
) -> None:
    with _sockets(guarded_service, SLOW_CLIENTS, HALF_HEADERS) as slow:
        opened = time.monotonic()
        answered = [httpx.get(f"{guarded_service.url}/healthz", timeout=5).status_code for _ in range(ANSWERS)]
        still_open = [not _closed_by_server(connection, time.monotonic()) for connection in slow]
        deadline = opened + HEADER_TIMEOUT_S + MARGIN_S
        closed = [_closed_by_server(connection, deadline) for connection in slow]
        elapsed = time.monotonic() - opened
    assert answered == [200] * ANSWERS, answered
    assert all(still_open), "others were answered while every slow client still hung, not once they were dropped"
    assert all(closed), f"{closed.count(False)} of {SLOW_CLIENTS} slow clients still open after {elapsed:.1f} s"
    assert elapsed >= HEADER_TIMEOUT_S - 0.5, "dropped by the header deadline, not at once"


def test_a_client_that_trickles_its_headers_is_dropped_by_the_same_deadline(guarded_service: ServiceProcess) -> None:
    """Each byte arriving does not restart the clock: the whole header must arrive within the deadline."""
    with _sockets(guarded_service, 1, b"G") as (connection,):
        opened = time.monotonic()
        dropped_at = None
        for byte in HALF_HEADERS[1:]:  # a byte every 0.2 s: the whole takes far longer than the deadline
            try:
                if _closed_by_server(connection, time.monotonic() + 0.2):
                    dropped_at = time.monotonic()
                    break
                connection.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                dropped_at = time.monotonic()
                break
            if time.monotonic() > opened + HEADER_TIMEOUT_S + MARGIN_S:
                break
    assert dropped_at is not None and dropped_at - opened < HEADER_TIMEOUT_S + MARGIN_S


def _accept_queue(port: int) -> int:
    """Connections to the listening socket on `port` that the kernel has completed and the server not yet accepted
    (the rx_queue of the LISTEN entry in /proc/net/tcp{,6})."""
    waiting = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                waiting += int(fields[4].split(":")[1], 16)
    return waiting


def test_a_request_beyond_the_open_connection_limit_is_a_prompt_json_503(guarded_service: ServiceProcess) -> None:
    with _sockets(guarded_service, MAX_OPEN, b""):
        wait_until(lambda: _accept_queue(_address(guarded_service)[1]) == 0, 30, "the server accepted them all")
        start = time.monotonic()
        refused = httpx.get(f"{guarded_service.url}/v1/config", timeout=5)
        elapsed = time.monotonic() - start
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "overloaded" and int(refused.headers["retry-after"]) >= 1
    assert elapsed < PROMPT_S
    wait_until(lambda: httpx.get(f"{guarded_service.url}/v1/config", timeout=5).status_code == 200, 30,
               "answered again once the server has seen the sockets closed")  # fmt: skip


def test_liveness_answers_200_throughout_a_flood_of_unfinished_headers(patient_service: ServiceProcess) -> None:
    """The attack: more connections than the limit, each sending a request line and a header, never the blank line.
    Liveness (/healthz, /v2/health/live) answers 200 on every poll, each on a new connection as a kubelet's probe
    comes, while other requests, readiness included, get 503: overload is readiness's to report."""
    with _sockets(patient_service, FLOOD, FLOOD_HEADERS):
        wait_until(lambda: _accept_queue(_address(patient_service)[1]) == 0, 30, "the server accepted them all")
        polls = []
        for _ in range(10):
            for path in ("/healthz", "/v2/health/live"):
                with httpx.Client(base_url=patient_service.url, timeout=5) as client:
                    polls.append((path, client.get(path)))
        with httpx.Client(base_url=patient_service.url, timeout=5) as client:
            others = [client.get(path) for path in ("/readyz", "/v1/config")]
    assert all(response.status_code == 200 for _, response in polls), [(p, r.status_code) for p, r in polls]
    assert all(response.headers["connection"] == "close" for _, response in polls)
    assert [response.status_code for response in others] == [503, 503], "the flood is beyond the limit throughout"
    assert all(response.json()["code"] == "overloaded" for response in others)
