"""Hostile request bodies at the probe service: a JSON body of millions of tiny values is refused before it is
parsed (the event loop keeps answering /healthz, memory stays put); uploads reserve their declared length before
they are read, so that those that fit are served however many arrive at once, a client that stalls holds its
reservation only until the stall deadline, and one client address at most its share."""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from service.settings import body_limit
from tests.support.memory import MB, peak_memory, resident_bytes
from tests.support.resilience import cpu_seconds, start_probe
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.service import sample_value
from tests.support.serving import encode, photo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.serving, pytest.mark.slow]

IMAGE = encode(photo("rocket"))
NESTED_BODY_BYTES = 24 * MB  # parsed, it took 2 GB and blocked the event loop for seconds
SLACK = 48 * MB  # allocator and Python noise
CPU_LIMIT_S = 1.0  # of the service while it takes the body: parsing it blocked the event loop for seconds


def _nested_body(size: int) -> bytes:
    """The attack: a valid InferRequest whose parameters hold millions of tiny nested lists."""
    head, tail = b'{"inputs": [], "parameters": {"a": [', b"[]]}}"
    return head + b"[[[[]]]]," * ((size - len(head) - len(tail)) // 9) + tail


@contextlib.contextmanager
def _healthz_latencies(url: str) -> Iterator[list[float]]:
    """The latencies of /healthz requests sent one after another while the block runs."""
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                start = time.perf_counter()
                client.get(f"{url}/healthz").raise_for_status()
                latencies.append(time.perf_counter() - start)
                time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


def test_a_json_body_of_millions_of_values_is_refused_unparsed_and_the_loop_keeps_answering(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    body = _nested_body(NESTED_BODY_BYTES)
    with start_probe(fragile_torchserve, tmp_path / "probe.log") as probe:
        time.sleep(1.0)  # let the service settle before taking its baseline
        with peak_memory(probe.process.pid) as memory, _healthz_latencies(probe.url) as latencies:
            cpu = cpu_seconds(probe.process.pid)
            response = httpx.post(
                f"{probe.url}/v2/models/{CIRCULAR_MODEL}/infer",
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            cpu = cpu_seconds(probe.process.pid) - cpu
        time.sleep(0.5)
        final = resident_bytes(probe.process.pid)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["code"] == "invalid_inference_request" and "values" in response.json()["error"]
    assert latencies, "/healthz answered throughout"
    assert cpu < CPU_LIMIT_S, f"the service spent {cpu:.2f} s of CPU on the body: it parsed it, its loop blocked"
    peak = memory.peak - memory.baseline
    assert peak <= 3 * len(body) + SLACK, f"peak +{peak / MB:.0f} MB"
    assert final - memory.baseline <= SLACK, f"kept +{(final - memory.baseline) / MB:.0f} MB after the request"


WINDOW_S = 60.0  # the longest wait for the service to reach the state a test acts in


def _stalled_upload(probe: ServiceProcess, head: bytes, sent: bytes, source: str = "127.0.0.1") -> socket.socket:
    """A client that sends `head` and `sent` of its body, then nothing more."""
    host, port = probe.url.removeprefix("http://").rsplit(":", 1)
    connection = socket.create_connection((host, int(port)), timeout=120, source_address=(source, 0))
    connection.sendall(head + sent)
    return connection


def _answer(connection: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the answer on `connection`."""
    response = http.client.HTTPResponse(connection)
    response.begin()
    return response.status, json.loads(response.read() or b"{}")


def _budget(probe: ServiceProcess, gauge: str) -> float:
    """The service's upload budget gauge `gauge` (probe_budget_in_use or probe_budget_waiting)."""
    return sample_value(httpx.get(f"{probe.url}/metrics", timeout=10).text, gauge, budget="upload_bytes")


def _request_bytes(url: str, **request: object) -> tuple[bytes, bytes]:
    """A request's head (with Content-Length) and body, as httpx would send them, for a raw socket."""
    built = httpx.Request("POST", url, **request)
    body = built.read()
    headers = "".join(f"{k}: {v}\r\n" for k, v in built.headers.items() if k.lower() != "host")
    return f"POST {built.url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode(), body


def _oip_body(image: bytes) -> tuple[bytes, dict[str, str]]:
    header = (
        b'{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": '
        + str(len(image) + 4).encode()
        + b"}}]}"
    )
    return header + len(image).to_bytes(4, "little") + image, {"Inference-Header-Content-Length": str(len(header))}


def _noise_png(height: int, width: int) -> bytes:
    """A photo-sized PNG that does not compress: about 3 bytes per pixel."""
    return encode(np.random.default_rng(height).integers(0, 256, (height, width, 3), np.uint8), "PNG")


def test_eight_concurrent_large_sequences_are_served_as_they_fit(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """The issue's case: eight 13.6 MB /v1/sequence uploads from eight clients at once, 64 MiB in flight. Each
    reserves its declared length before it is read: four fit and are read, four wait unread, and as the first finish
    the others get their room. Every last byte is held back until the service holds that state (before, bytes were
    charged as they arrived: each upload held part of the budget, none could finish, 0 to 2 of 8 were served)."""
    frame = _noise_png(1_600, 1_420)  # 6.8 MB
    files = [("frame", (f"{k}.png", frame, "image/png")) for k in range(2)]
    env = {"PROBE_ADMISSION_WAIT_S": "120", "PROBE_BODY_TIMEOUT_S": "120", "PROBE_BODY_STALL_S": "60"}
    release = threading.Event()

    def upload(connection: socket.socket) -> tuple[int, dict]:
        connection.sendall(body[:-1])  # the four that wait send only what the socket buffers take, until admitted
        release.wait()
        connection.sendall(body[-1:])
        return _answer(connection)

    with start_probe(fragile_torchserve, tmp_path / "probe.log", **env) as probe:
        head, body = _request_bytes(f"{probe.url}/v1/sequence?models={CIRCULAR_MODEL}", files=files)
        fitting = (64 * MB) // len(body)
        with contextlib.ExitStack() as stack, ThreadPoolExecutor(8) as pool:
            clients = [stack.enter_context(_stalled_upload(probe, head, b"", f"127.0.0.{10 + k}")) for k in range(8)]
            answers = [pool.submit(upload, connection) for connection in clients]
            try:
                wait_until(
                    lambda: _budget(probe, "probe_budget_waiting") == 8 - fitting,
                    WINDOW_S,
                    "the uploads beyond room wait",
                )
                reserved = _budget(probe, "probe_budget_in_use")
            finally:
                release.set()
            answers = [answer.result() for answer in answers]
    assert 13_000_000 < len(body) < 14_000_000 and fitting == 4
    assert reserved == fitting * len(body)
    assert [status for status, _ in answers] == [200] * 8, answers


def test_stalled_senders_hold_the_upload_budget_only_until_the_stall_deadline(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """The issue's case: two clients each send 31 MiB to /v2 and never finish; a third sends a 2.25 MB image. The
    stalled ones reserved 62 of the 64 MiB, so the third waits, and gets its room when they have sent nothing for
    PROBE_BODY_STALL_S (they get 408); its answer is a 200 while the stalled clients still hold their connections
    open (before: 503 for 30 s)."""
    env = {"PROBE_ADMISSION_WAIT_S": "120", "PROBE_BODY_TIMEOUT_S": "120", "PROBE_BODY_STALL_S": "10"}
    path = f"/v2/models/{CIRCULAR_MODEL}/infer"
    stalled = 31 * MB
    image = _noise_png(866, 866)  # 2.25 MB
    body, headers = _oip_body(image)
    with start_probe(fragile_torchserve, tmp_path / "probe.log", **env) as probe, contextlib.ExitStack() as stack:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {stalled}\r\n\r\n".encode()
        senders = [stack.enter_context(_stalled_upload(probe, head, b"", f"127.0.0.{k}")) for k in (2, 3)]
        wait_until(
            lambda: _budget(probe, "probe_budget_in_use") == 2 * stalled, WINDOW_S, "both stalled uploads reserved"
        )
        with ThreadPoolExecutor(3) as pool:
            for connection in senders:
                pool.submit(connection.sendall, b"{" + bytes(stalled - 2))  # all but the last byte
            third = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4"), timeout=120)
            answer = pool.submit(third.post, f"{probe.url}{path}", content=body, headers=headers)
            wait_until(lambda: _budget(probe, "probe_budget_waiting") == 1, WINDOW_S, "the third upload waits for room")
            response = answer.result()
            third.close()
        cut = [_answer(connection) for connection in senders]
    assert 2_200_000 < len(image) < 2_300_000
    assert response.status_code == 200, response.text
    assert [(status, body["code"]) for status, body in cut] == [(408, "request_timeout")] * 2, cut


def test_a_client_that_declares_much_and_sends_little_holds_its_reservation_only_until_it_stalls(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """A body declared 32 MiB (and a chunked one, which reserves the largest body) of which one byte arrives:
    between them they reserve the whole budget, so other uploads wait, and are served once the two have sent
    nothing for PROBE_BODY_STALL_S (they get 408)."""
    env = {"PROBE_BODY_TIMEOUT_S": "60", "PROBE_BODY_STALL_S": "2", "PROBE_ADMISSION_WAIT_S": "30"}
    with start_probe(fragile_torchserve, tmp_path / "probe.log", **env) as probe:
        path = f"/v2/models/{CIRCULAR_MODEL}/infer"
        declared = _stalled_upload(
            probe, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {32 * MB}\r\n\r\n".encode(), b"{", "127.0.0.5"
        )
        chunked = _stalled_upload(
            probe,
            f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode(),
            b"1\r\n{\r\n",
            "127.0.0.6",
        )
        with declared, chunked:
            wait_until(
                lambda: _budget(probe, "probe_budget_in_use") == 64 * MB, WINDOW_S, "the two reserved the whole budget"
            )
            body, headers = _oip_body(IMAGE)
            with httpx.Client(base_url=probe.url, timeout=120) as client:
                v1 = [client.post("/v1/stability?pairs=1", content=IMAGE) for _ in range(3)]
                v2 = [client.post(path, content=body, headers=headers) for _ in range(3)]
            cut = [_answer(connection) for connection in (declared, chunked)]
    assert [r.status_code for r in v1 + v2] == [200] * 6, [r.text[:200] for r in v1 + v2]
    assert [(status, body["code"]) for status, body in cut] == [(408, "request_timeout")] * 2, cut


def test_one_client_address_holds_at_most_its_share_and_others_still_upload(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """A greedy client (127.0.0.2) sends most of several large uploads and stalls: beyond its share it is told to
    come back (503), and another client (127.0.0.3) still gets its uploads through."""
    max_upload = 2 * MB
    largest = body_limit(max_upload)  # the most one upload may hold
    in_flight, share = 4 * largest, 2 * largest
    env = {
        "PROBE_IMAGE__MAX_BYTES": str(max_upload),
        "PROBE_MAX_UPLOAD_BYTES_IN_FLIGHT": str(in_flight),
        "PROBE_MAX_UPLOAD_BYTES_PER_CLIENT": str(share),
        "PROBE_ADMISSION_WAIT_S": "1",
        "PROBE_BODY_TIMEOUT_S": "30",
        "PROBE_BODY_STALL_S": "30",
    }
    head = f"POST /v1/stability HTTP/1.1\r\nHost: x\r\nContent-Length: {largest}\r\n\r\n".encode()
    greedy_part = bytes(max_upload)
    other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=120)
    with start_probe(fragile_torchserve, tmp_path / "probe.log", **env) as probe, contextlib.ExitStack() as stack:
        greedy = [stack.enter_context(_stalled_upload(probe, head, greedy_part, "127.0.0.2")) for _ in range(5)]
        answered: dict[socket.socket, bytearray] = {}

        def three_refused() -> bool:  # whole answers: a loaded server may send the head and the body apart
            for connection in select.select(greedy, [], [], 0.1)[0]:
                answered.setdefault(connection, bytearray()).extend(connection.recv(65536))
            return sum(map(_whole_answer, answered.values())) >= 3

        wait_until(three_refused, 30, "the greedy client's uploads beyond its share answered")
        with other, ThreadPoolExecutor(3) as pool:
            others = list(pool.map(lambda _: other.post(f"{probe.url}/v1/stability?pairs=1", content=IMAGE), range(3)))
        refused = [bytes(answer) for answer in answered.values() if _whole_answer(answer)]
    assert [r.status_code for r in others] == [200] * 3, [r.text[:200] for r in others]
    assert len(refused) >= 3 and all(b" 503 " in answer and b"overloaded" in answer for answer in refused), refused


def _whole_answer(answer: bytes | bytearray) -> bool:
    """Whether `answer` holds an HTTP response's head and all the body its Content-Length says."""
    head, separator, body = bytes(answer).partition(b"\r\n\r\n")
    if not separator:
        return False
    lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    return bool(lengths) and len(body) >= int(lengths[0])
