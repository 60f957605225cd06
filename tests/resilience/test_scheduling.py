"""Heavy probes do not starve light requests: a real probe service sends a probe to the real TorchServe in chunks, in
fair turns, admits what fits its budgets and deadline before anything is sent, and stops the work of a client that
left. The gated model (tests/support/models/gated.py) holds each forward pass until the test lets it through, so
that every window is certain: the test sees where the work is before it acts.

A probe here is a grid of 17 x 17 offsets (289 views); in chunks of 262,144 view pixels, 64 views of 64 x 64 each (5
chunks), or 50 of 72 x 72 (6). Before chunking it was one request: the handler ran it in forward passes of the same
size, one after another, and a plain classification waited for all of them."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.support.model_gate import GATED_MODEL, ModelGate
from tests.support.resilience import start_probe
from tests.support.service import sample_value, wait_until_ready
from tests.support.serving import encode, photo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.serving, pytest.mark.slow]

CHUNK_VIEW_PIXELS = 64 * 64**2
WAIT_S = 60.0
VIEWS = 17 * 17
IMAGE = encode(photo("coffee"))
ENV = {
    "PROBE_MODELS": GATED_MODEL,
    "PROBE_CHUNK_VIEW_PIXELS": str(CHUNK_VIEW_PIXELS),
    # one readiness prediction at start, then none: it would take a forward pass the test counts
    "PROBE_READY_INTERVAL_S": "600",
    "PROBE_READY_IDLE_S": "3600",
}


def _grid(side: int) -> dict[str, object]:
    """A probe of 289 crop views of `side` x `side`."""
    return {"model": GATED_MODEL, "protocol": "grid", "step": 1, "max_shift": 16, "crop_size": side,
            "resize_size": side + 32}  # fmt: skip


def _client(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=120)


@contextlib.contextmanager
def _service(torchserve: TorchServe, tmp_path: Path, **env: str) -> Iterator[ServiceProcess]:
    with start_probe(torchserve, tmp_path / "probe.log", **{**ENV, **env}) as probe:
        wait_until_ready(probe)  # the readiness prediction has run: the gate may close
        # /v2 names classes by the model's label set, asked of the handler once (a forward pass) and kept: asked now
        httpx.get(f"{probe.url}/v2/models/{GATED_MODEL}", timeout=WAIT_S).raise_for_status()
        yield probe


def _probe(pool: ThreadPoolExecutor, probe: ServiceProcess, side: int, address: str = "127.0.0.1") -> Future:
    def send() -> httpx.Response:
        with _client(address) as client:
            return client.post(f"{probe.url}/v1/stability", params=_grid(side), content=IMAGE)

    return pool.submit(send)


def _metric(probe: ServiceProcess, name: str, **labels: str) -> float:
    return sample_value(httpx.get(f"{probe.url}/metrics", timeout=10).text, name, **labels)


def _queued(torchserve: TorchServe) -> int:
    """Requests waiting in TorchServe's queue for the gated model (not those its worker holds)."""
    response = httpx.get(f"{torchserve.management_url}/models/{GATED_MODEL}", headers=torchserve.headers(), timeout=10)
    return response.json()[0]["jobQueueStatus"]["pendingRequests"]


def _plain(torchserve: TorchServe) -> httpx.Response:
    """A plain classification sent to TorchServe directly."""
    url = f"{torchserve.inference_url}/predictions/{GATED_MODEL}"
    return httpx.post(url, content=IMAGE, headers=torchserve.headers(), timeout=120)


def _oip(probe: ServiceProcess) -> httpx.Response:
    """A plain classification through the probe service (/v2)."""
    header = b'{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": '
    header += str(len(IMAGE) + 4).encode() + b"}}]}"
    body = header + len(IMAGE).to_bytes(4, "little") + IMAGE
    return httpx.post(
        f"{probe.url}/v2/models/{GATED_MODEL}/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=120,
    )


def test_plain_classifications_wait_behind_one_chunk_not_the_whole_probe(
    fragile_torchserve: TorchServe, model_gate: ModelGate, tmp_path: Path
) -> None:
    """A probe's first chunk is held at the gate; a plain classification sent to TorchServe and one through /v2 wait
    in TorchServe's queue. Forward passes are then let through one at a time: both are answered after at most three
    (the held chunk, then the next batch's: the probe's next chunk and the plain views). Before, the probe was one
    request of five forward passes, and they came after all five."""
    with _service(fragile_torchserve, tmp_path) as probe, ThreadPoolExecutor(3) as pool:
        model_gate.close()
        before = model_gate.latest()
        probed = _probe(pool, probe, 64)
        number, views, side = model_gate.next_held(after=before)
        assert (views, side) == (64, 64)
        plain = [pool.submit(_plain, fragile_torchserve), pool.submit(_oip, probe)]
        wait_until(lambda: _queued(fragile_torchserve) == 2, WAIT_S, "both plain classifications wait in the queue")
        let_through = 0
        while not all(future.done() for future in plain):
            assert let_through < 6, "the plain classifications waited behind the whole probe"
            model_gate.let_one_through()
            let_through += 1
            held = number
            answered_or_held = lambda: all(f.done() for f in plain) or model_gate.latest() > held  # noqa: B023, E731
            wait_until(answered_or_held, WAIT_S, "the answers or the next forward pass")
            number = model_gate.latest()
        model_gate.open()
        answers = [future.result() for future in plain]
        probe_answer = probed.result()
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text[:200] for answer in answers]
    assert let_through <= 3, f"answered after {let_through} forward passes"
    assert probe_answer.status_code == 200, probe_answer.text
    assert len(probe_answer.json()["shifts"]) == VIEWS


def test_probes_of_two_clients_take_turns_chunk_by_chunk(
    fragile_torchserve: TorchServe, model_gate: ModelGate, tmp_path: Path
) -> None:
    """Client A's probe (views of 64) holds the model; client B's (views of 72) starts meanwhile: their chunks then
    alternate, A, B, A, B, ..., rather than B waiting for the whole of A."""
    with _service(fragile_torchserve, tmp_path) as probe, ThreadPoolExecutor(2) as pool:
        model_gate.close()
        before = model_gate.latest()
        first = _probe(pool, probe, 64, "127.0.0.2")
        number, _, side = model_gate.next_held(after=before)
        second = _probe(pool, probe, 72, "127.0.0.3")
        wait_until(lambda: _metric(probe, "probe_scheduler_turns_waiting") == 1, WAIT_S, "client B's first chunk waits")
        sides = [side]
        for _ in range(4):
            model_gate.let_one_through()
            number, _, side = model_gate.next_held(after=number)
            sides.append(side)
        model_gate.open()
        answers = [first.result(), second.result()]
    assert sides == [64, 72, 64, 72, 64]
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text[:200] for answer in answers]


def test_a_probe_that_cannot_meet_its_deadline_is_refused_before_anything_is_sent(
    fragile_torchserve: TorchServe, model_gate: ModelGate, tmp_path: Path
) -> None:
    """Client A's first chunk is held two seconds: the model's measured throughput is at most 64 views of 64 x 64 in
    two seconds. Client B's probe would then take about 16 s (its 5 chunks and as many of A's), more than the 8-s
    deadline: it is refused at once with 503 and a Retry-After of the difference, and nothing of it is sent."""
    with _service(fragile_torchserve, tmp_path, PROBE_DEADLINE_S="8") as probe, ThreadPoolExecutor(1) as pool:
        model_gate.close()
        before = model_gate.latest()
        first = _probe(pool, probe, 64, "127.0.0.2")
        number, _, _ = model_gate.next_held(after=before)
        time.sleep(2.0)  # the chunk takes at least this long: the throughput measured is at most 1/2 chunk a second
        model_gate.let_one_through()
        model_gate.next_held(after=number)
        chunks, forwards = _metric(probe, "probe_scheduler_chunks_total"), len(model_gate.forwards())
        started = time.monotonic()
        with _client("127.0.0.3") as client:
            refused = client.post(f"{probe.url}/v1/stability", params=_grid(64), content=IMAGE)
        seconds = time.monotonic() - started
        after = _metric(probe, "probe_scheduler_chunks_total"), len(model_gate.forwards())
        reasons = _metric(probe, "probe_scheduler_refused_total", reason="deadline")
        model_gate.open()
        answer = first.result()
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "overloaded" and "PROBE_DEADLINE_S" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) >= 2
    assert seconds < 2.0 and after == (chunks, forwards) and reasons == 1, "refused before anything was sent"
    assert answer.status_code == 200, answer.text


def test_each_clients_probes_are_bounded_by_its_view_pixel_budget(
    fragile_torchserve: TorchServe, model_gate: ModelGate, tmp_path: Path
) -> None:
    """With room for one and a half probes per client: client A's second probe is told to come back (503) while its
    first is held, client B's is admitted, and a probe costlier than the whole budget is a 413 at once."""
    budget = 3 * VIEWS * 64**2 // 2
    env = {"PROBE_MAX_VIEW_PIXELS_PER_CLIENT": str(budget)}
    with _service(fragile_torchserve, tmp_path, **env) as probe, ThreadPoolExecutor(2) as pool:
        model_gate.close()
        before = model_gate.latest()
        first = _probe(pool, probe, 64, "127.0.0.2")
        model_gate.next_held(after=before)
        with _client("127.0.0.2") as client:
            again = client.post(f"{probe.url}/v1/stability", params=_grid(64), content=IMAGE)
            too_costly = client.post(f"{probe.url}/v1/stability", params=_grid(96), content=IMAGE)
        other = _probe(pool, probe, 64, "127.0.0.3")
        wait_until(lambda: _metric(probe, "probe_scheduler_turns_waiting") == 1, WAIT_S, "client B's probe is admitted")
        model_gate.open()
        answers = [first.result(), other.result()]
    assert again.status_code == 503 and again.json()["code"] == "overloaded", again.text
    assert "this client's probes" in again.json()["message"] and int(again.headers["retry-after"]) >= 1
    assert too_costly.status_code == 413 and too_costly.json()["code"] == "too_many_pixels", too_costly.text
    assert "PROBE_MAX_VIEW_PIXELS_PER_CLIENT" in too_costly.json()["message"]
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text[:200] for answer in answers]


def _raw_probe(probe: ServiceProcess, side: int) -> socket.socket:
    """A probe sent on a socket the test can close."""
    host, port = probe.url.removeprefix("http://").rsplit(":", 1)
    query = "&".join(f"{key}={value}" for key, value in _grid(side).items())
    connection = socket.create_connection((host, int(port)), timeout=60)
    head = f"POST /v1/stability?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(IMAGE)}\r\n\r\n"
    connection.sendall(head.encode() + IMAGE)
    return connection


@pytest.mark.parametrize("ending", ["client_gone", "deadline"])
def test_a_probe_whose_client_left_or_whose_deadline_passed_sends_no_more_chunks(
    fragile_torchserve: TorchServe, model_gate: ModelGate, tmp_path: Path, ending: str
) -> None:
    """The first chunk is held; the client closes its connection (or the probe's 3-s deadline passes, which gets it
    a 504). Once the service has stopped the probe, the gate opens and a plain classification goes through
    TorchServe's queue behind whatever was sent: only the held chunk was computed, not the four others (before,
    TorchServe computed the whole probe after the client had gone)."""
    env = {"PROBE_DEADLINE_S": "3"} if ending == "deadline" else {}
    with _service(fragile_torchserve, tmp_path, **env) as probe:
        model_gate.close()
        ran, before = len(model_gate.forwards()), model_gate.latest()
        connection = _raw_probe(probe, 64)
        model_gate.next_held(after=before)
        if ending == "client_gone":
            connection.close()
        stopped = lambda: _metric(probe, "probe_scheduler_abandoned_total", reason=ending) == 1  # noqa: E731
        wait_until(stopped, WAIT_S, "the probe is stopped")
        model_gate.open()
        assert _plain(fragile_torchserve).status_code == 200
        if ending == "deadline":
            answer = connection.recv(65536)
            connection.close()
    chunks = [forward for forward in model_gate.forwards()[ran:] if forward[1] == 64]
    assert chunks == [(64, 64)], chunks
    if ending == "deadline":
        assert b" 504 " in answer and b"torchserve_timeout" in answer, answer
