"""Hostile request bodies at the probe service: a JSON body of millions of tiny values is refused before it is
parsed (the event loop keeps answering /healthz, memory stays put), and clients that send slowly hold only the bytes
they sent, at most a share per client address, so they do not starve other uploads."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from service.settings import body_limit
from tests.support.memory import MB, peak_memory, resident_bytes
from tests.support.resilience import cpu_seconds, start_probe
from tests.support.served_models import CIRCULAR_MODEL
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


def _stalled_upload(probe: ServiceProcess, head: bytes, sent: bytes, source: str = "127.0.0.1") -> socket.socket:
    """A client that sends `head` and `sent` of its body, then nothing more."""
    host, port = probe.url.removeprefix("http://").rsplit(":", 1)
    connection = socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0))
    connection.sendall(head + sent)
    return connection


def _oip_body(image: bytes) -> tuple[bytes, dict[str, str]]:
    header = (
        b'{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": '
        + str(len(image) + 4).encode()
        + b"}}]}"
    )
    return header + len(image).to_bytes(4, "little") + image, {"Inference-Header-Content-Length": str(len(header))}


def test_a_client_that_declares_much_and_sends_little_does_not_block_other_uploads(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    """One byte sent of a declared (or chunked) huge body holds one byte of the upload budget, not what it declares."""
    env = {"PROBE_BODY_TIMEOUT_S": "20", "PROBE_ADMISSION_WAIT_S": "1"}
    with start_probe(fragile_torchserve, tmp_path / "probe.log", **env) as probe:
        path = f"/v2/models/{CIRCULAR_MODEL}/infer"
        declared = _stalled_upload(
            probe, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {32 * MB}\r\n\r\n".encode(), b"{"
        )
        chunked = _stalled_upload(
            probe, f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode(), b"1\r\n{\r\n"
        )
        with declared, chunked:
            time.sleep(0.3)
            body, headers = _oip_body(IMAGE)
            with httpx.Client(base_url=probe.url, timeout=120) as client:
                v1 = [client.post("/v1/stability?pairs=1", content=IMAGE) for _ in range(3)]
                v2 = [client.post(path, content=body, headers=headers) for _ in range(3)]
    assert [r.status_code for r in v1 + v2] == [200] * 6, [r.text[:200] for r in v1 + v2]


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
    }
    head = f"POST /v1/stability HTTP/1.1\r\nHost: x\r\nContent-Length: {largest}\r\n\r\n".encode()
    greedy_part = bytes(max_upload)
    other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=120)
    with start_probe(fragile_torchserve, tmp_path / "probe.log", **env) as probe, contextlib.ExitStack() as stack:
        greedy = [stack.enter_context(_stalled_upload(probe, head, greedy_part, "127.0.0.2")) for _ in range(5)]
        answered: dict[socket.socket, bytes] = {}

        def three_refused() -> bool:
            for connection in select.select(greedy, [], [], 0.1)[0]:
                answered.setdefault(connection, connection.recv(65536))
            return len(answered) >= 3

        wait_until(three_refused, 30, "the greedy client's uploads beyond its share answered")
        with other, ThreadPoolExecutor(3) as pool:
            others = list(pool.map(lambda _: other.post(f"{probe.url}/v1/stability?pairs=1", content=IMAGE), range(3)))
        refused = list(answered.values())
    assert [r.status_code for r in others] == [200] * 3, [r.text[:200] for r in others]
    assert len(refused) >= 3 and all(b" 503 " in answer and b"overloaded" in answer for answer in refused), refused
