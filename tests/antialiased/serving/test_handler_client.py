"""The handler contract's client (sync and async, the same decisions) against a real HTTP server on 127.0.0.1 that
answers from a script, standing in for TorchServe's failures (a scripted server, not TorchServe: the real one is
used by the serving, service and evaluation tests): what is retried and how, what is passed through, what each
failure becomes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

from antialiased.errors import ApiError, ErrorCode
from antialiased.serving.contract import PURPOSE_HEADER, Classification, ShiftClassification
from antialiased.serving.handler_client import (
    AsyncHandlerClient,
    ClientOptions,
    HandlerClient,
    RetryPolicy,
    prediction_request,
    read_answer,
)
from antialiased.serving.torchserve_keys import KEY_REFUSED
from antialiased.serving.worker_restarts import WorkerRestarts
from antialiased.shifts import ShiftRequest
from launcher.ports import free_port

OK = {
    "model": {"name": "m", "arch": "resnet50", "antialiased": True},
    "weights": {"name": None, "sha256": "0" * 64, "untrained": True},
    "topk": [{"index": 1, "label": "goldfish", "probability": 0.5}],
}
TORCHSERVE_503 = (503, {}, {"code": 503, "type": "ServiceUnavailableException", "message": "busy"})
KEY_400 = (400, {}, {"code": 400, "type": "InvalidKeyException", "message": KEY_REFUSED.decode()})
FAST = RetryPolicy(retries=3, backoff_s=0.01, max_backoff_s=0.05)


class _Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next (status, headers, JSON body) of `script`, the last one from then on; status
    "slow" answers 200 after `headers` seconds, "held" once `released` is set."""

    script: ClassVar[list] = []
    seen: ClassVar[list] = []  # (path, headers) of each request
    bodies: ClassVar[list] = []  # the body of each request
    released: ClassVar[threading.Event]

    def do_POST(self) -> None:
        type(self).bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, dict(self.headers)))
        status, headers, body = self.script[min(len(self.seen) - 1, len(self.script) - 1)]
        if status == "slow":
            time.sleep(headers)
            status, headers = 200, {}
        elif status == "held":
            self.released.wait(headers)
            status, headers = 200, {}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[type[_Scripted]]:
    fields = {"script": [(200, {}, OK)], "seen": [], "bodies": [], "released": threading.Event()}
    handler = type("Scripted", (_Scripted,), fields)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield handler
    httpd.shutdown()
    httpd.server_close()


def _classify(options: ClientOptions, kind: str, **request) -> Classification:
    """The same call through the blocking or the asyncio client."""
    body = prediction_request(b"image bytes", topk=1, **request)
    if kind == "sync":
        with HandlerClient(options) as client:
            response = client.post("m", body)
    else:

        async def call():
            client = AsyncHandlerClient(options)
            try:
                return await client.post("m", body)
            finally:
                await client.aclose()

        response = asyncio.run(call())
    return read_answer("m", response, Classification)


KINDS = ("sync", "async")


@pytest.mark.parametrize("kind", KINDS)
def test_503_and_507_are_retried_until_an_answer(server, kind) -> None:
    server.script = [TORCHSERVE_503, (507, {}, {"message": "worker died"}), (200, {}, OK)]
    reasons = []
    options = ClientOptions(server.url, FAST, on_retry=lambda model, reason: reasons.append(reason))
    assert _classify(options, kind).topk[0].label == "goldfish"
    assert reasons == ["503", "507"] and len(server.seen) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_retries_spent_give_overloaded_with_retry_after(server, kind) -> None:
    server.script = [TORCHSERVE_503]
    with pytest.raises(ApiError) as refused:
        _classify(ClientOptions(server.url, FAST), kind)
    assert (refused.value.code, refused.value.status) == (ErrorCode.OVERLOADED, 503)
    assert refused.value.headers["Retry-After"] == "1" and len(server.seen) == FAST.retries + 1


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_is_the_least_wait(server, kind) -> None:
    server.script = [(503, {"Retry-After": "1"}, {"code": "overloaded", "message": "batch full"}), (200, {}, OK)]
    started = time.monotonic()
    _classify(ClientOptions(server.url, RetryPolicy(retries=1, backoff_s=0.01, max_backoff_s=2.0)), kind)
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_key_is_read_again_and_sent_once_more_even_without_retries(server, kind) -> None:
    server.script = [KEY_400, (200, {}, OK)]
    keys = iter(["old", "new"])
    options = ClientOptions(server.url, RetryPolicy(retries=0), headers=lambda: {"Authorization": next(keys)})
    _classify(options, kind)
    assert [headers["Authorization"] for _, headers in server.seen] == ["old", "new"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_refused_twice_is_the_answer(server, kind) -> None:
    server.script = [KEY_400]
    with pytest.raises(ApiError) as refused:
        _classify(ClientOptions(server.url, FAST), kind)
    assert refused.value.code == ErrorCode.TORCHSERVE_ERROR and len(server.seen) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_the_handlers_refusal_passes_through_unretried(server, kind) -> None:
    server.script = [(413, {}, {"code": "too_many_pixels", "message": "too many"})]
    with pytest.raises(ApiError) as refused:
        _classify(ClientOptions(server.url, FAST), kind)
    assert (refused.value.code, refused.value.status, refused.value.message) == ("too_many_pixels", 413, "too many")
    assert len(server.seen) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_nobody_listening_is_torchserve_unavailable_after_the_retries(kind) -> None:
    reasons = []
    options = ClientOptions(f"http://127.0.0.1:{free_port()}", FAST, on_retry=lambda m, r: reasons.append(r))
    with pytest.raises(ApiError) as refused:
        _classify(options, kind)
    assert (refused.value.code, refused.value.status) == (ErrorCode.TORCHSERVE_UNAVAILABLE, 503)
    assert reasons == ["unreachable"] * FAST.retries


@pytest.mark.parametrize("kind", KINDS)
def test_too_slow_is_a_timeout_not_retried(server, kind) -> None:
    server.script = [("slow", 2.0, OK)]
    with pytest.raises(ApiError) as refused:
        _classify(ClientOptions(server.url, FAST, timeout_s=0.5), kind)
    assert (refused.value.code, refused.value.status) == (ErrorCode.TORCHSERVE_TIMEOUT, 504)
    assert len(server.seen) == 1


def test_requests_carry_the_contract_fields_and_synthetic_marks(server) -> None:
    shifts = ShiftRequest(offsets=((0, 0), (1, 2)))
    answer = {**OK, "shift": {"mode": "crop", "crop_size": 224, "base_size": 256, "resize_size": 256},
              "shifts": [{"offset": [0, 0], "topk": OK["topk"]}, {"offset": [1, 2], "topk": OK["topk"]}],
              "class_probabilities": {"1": [0.5, 0.5]}}  # fmt: skip
    server.script = [(200, {}, answer)]
    with HandlerClient(ClientOptions(server.url)) as client:
        assert isinstance(client.classify_shifts("m", b"x", shifts, topk=1), ShiftClassification)
        client.post("m", prediction_request(b"x", purpose="readiness"))
    (first_path, first), (second_path, second) = server.seen
    assert first_path == "/predictions/m" and "multipart/form-data" in first["Content-Type"]
    assert PURPOSE_HEADER not in first
    assert second_path == "/predictions/m?purpose=readiness" and second[PURPOSE_HEADER] == "readiness"


LOW = float(np.float32(0.5 / 999))  # the handler's probabilities are float32 values


def _chunk_answer(offsets: list[list[int]], top1: list[int], probabilities: bool = True) -> dict:
    """A handler's answer to a chunk: each view's top-1 `top1[k]`, and every class's probability when asked."""
    rows = [[0.5 if c == top else LOW for c in range(1000)] for top in top1]
    answer = {**OK, "shift": {"mode": "crop", "crop_size": 224, "base_size": 256, "resize_size": 256},
              "shifts": [{"offset": offset, "topk": [{"index": top, "label": "x", "probability": 0.5}]}
                         for offset, top in zip(offsets, top1, strict=True)],
              "class_probabilities": {str(top): [row[top] for row in rows] for top in set(top1)}}  # fmt: skip
    return answer | ({"probabilities": rows} if probabilities else {})


def _classify_shifts(options: ClientOptions, kind: str, shifts: ShiftRequest) -> ShiftClassification:
    if kind == "sync":
        with HandlerClient(options) as client:
            return client.classify_shifts("m", b"x", shifts, topk=1)

    async def call() -> ShiftClassification:
        client = AsyncHandlerClient(options)
        try:
            return await client.classify_shifts("m", b"x", shifts, topk=1)
        finally:
            await client.aclose()

    return asyncio.run(call())


@pytest.mark.parametrize("kind", KINDS)
def test_a_shift_request_beyond_one_request_goes_in_chunks_answered_as_one(server, kind) -> None:
    """Three views with room for two a request: two requests, each asking every class's probability; the answer
    is the whole request's, each class top-1 somewhere followed across all three views (7 at the first chunk's
    views, 9 at the second's)."""
    server.script = [(200, {}, _chunk_answer([[0, 0], [1, 2]], [7, 7])), (200, {}, _chunk_answer([[3, 3]], [9]))]
    options = ClientOptions(server.url, max_view_pixels_per_request=2 * 224**2)
    answer = _classify_shifts(options, kind, ShiftRequest(offsets=((0, 0), (1, 2), (3, 3))))
    assert [tuple(shift.offset) for shift in answer.shifts] == [(0, 0), (1, 2), (3, 3)]
    assert answer.class_probabilities == {"7": [0.5, 0.5, LOW], "9": [LOW, LOW, 0.5]} and answer.probabilities is None
    assert len(server.bodies) == 2 and all(b'name="probabilities"\r\n\r\ntrue' in body for body in server.bodies)


def test_a_chunk_answer_without_every_class_is_a_torchserve_error(server) -> None:
    server.script = [
        (200, {}, _chunk_answer([[0, 0]], [7], probabilities=False)),
        (200, {}, _chunk_answer([[1, 2]], [7])),
    ]
    options = ClientOptions(server.url, max_view_pixels_per_request=224**2)
    with pytest.raises(ApiError) as refused:
        _classify_shifts(options, "sync", ShiftRequest(offsets=((0, 0), (1, 2))))
    assert (refused.value.code, refused.value.status) == (ErrorCode.TORCHSERVE_ERROR, 502)
    assert "one probability per class" in refused.value.message


def test_a_shift_answer_for_other_offsets_is_a_torchserve_error(server) -> None:
    answer = {**OK, "shift": {"mode": "crop", "crop_size": 224, "base_size": 256, "resize_size": 256},
              "shifts": [{"offset": [5, 5], "topk": OK["topk"]}], "class_probabilities": {}}  # fmt: skip
    server.script = [(200, {}, answer)]
    with HandlerClient(ClientOptions(server.url)) as client, pytest.raises(ApiError) as refused:
        client.classify_shifts("m", b"x", ShiftRequest(offsets=((0, 0),)), topk=3)
    assert (refused.value.code, refused.value.status) == (ErrorCode.TORCHSERVE_ERROR, 502)


@pytest.mark.parametrize("kind", KINDS)
def test_a_shift_answer_without_every_class_asked_for_is_a_torchserve_error(server, kind) -> None:
    """Every class's probability at each view, when asked: the answer holds them, one per class in [0, 1], or it is
    refused."""
    shifts = ShiftRequest(offsets=((0, 0), (1, 2)))
    base = {**OK, "shift": {"mode": "crop", "crop_size": 224, "base_size": 256, "resize_size": 256},
            "shifts": [{"offset": [0, 0], "topk": OK["topk"]}, {"offset": [1, 2], "topk": OK["topk"]}],
            "class_probabilities": {"1": [0.5, 0.5]}}  # fmt: skip
    good = [0.001] * 1000
    wrong = [2.0, *good[1:]]
    cases = ((None, False), ([good], False), ([good, good[:999]], False), ([good, wrong], False), ([good, good], True))
    for probabilities, accepted in cases:
        server.script = [(200, {}, {**base, "probabilities": probabilities})]

        async def call() -> ShiftClassification:
            client = AsyncHandlerClient(ClientOptions(server.url))
            try:
                return await client.classify_shifts("m", b"x", shifts, topk=1, probabilities=True)
            finally:
                await client.aclose()

        try:
            if kind == "sync":
                with HandlerClient(ClientOptions(server.url)) as client:
                    answer = client.classify_shifts("m", b"x", shifts, topk=1, probabilities=True)
            else:
                answer = asyncio.run(call())
        except ApiError as refused:
            assert not accepted and (refused.code, refused.status) == (ErrorCode.TORCHSERVE_ERROR, 502)
            assert "one probability per class (1000) at each view" in refused.message or (
                probabilities[1] is wrong
                and "view 1's class probabilities holds the probability 2.0" in refused.message
            ), refused.message
        else:
            assert accepted and answer.probabilities == [good, good]


def _post_while_workers_restart(
    server: type[_Scripted], options: ClientOptions, restarts: list[tuple[int, str]]
) -> tuple[Classification, float]:
    """One prediction of model "m" through the asyncio client while workers restart ((the number of requests the
    server must have received, model) each: a restart comes while a request waits), the server's held answers
    released after the last; the answer and the seconds it took."""

    async def call() -> tuple[Classification, float]:
        signal = WorkerRestarts()
        client = AsyncHandlerClient(options, signal)

        async def restart() -> None:
            for seen, model in restarts:
                while len(server.seen) < seen:
                    await asyncio.sleep(0.005)
                signal.restarted(model)
            server.released.set()

        restarting = asyncio.ensure_future(restart())
        started = time.monotonic()
        try:
            response = await client.post("m", prediction_request(b"image bytes", topk=1))
        finally:
            restarting.cancel()
            await client.aclose()
        return read_answer("m", response, Classification), time.monotonic() - started

    return asyncio.run(call())


def test_a_request_lost_by_a_restarted_worker_is_sent_again_at_once(server) -> None:
    """TorchServe 0.12 drops, unanswered, the requests a worker had gathered when it died: the first try here never
    gets an answer (60 s), the restart signal sends it again, and the second try is answered."""
    server.script = [("slow", 60.0, OK), (200, {}, OK)]
    reasons = []
    options = ClientOptions(server.url, FAST, timeout_s=120, on_retry=lambda model, reason: reasons.append(reason))
    answer, seconds = _post_while_workers_restart(server, options, [(1, "m")])
    assert answer.topk[0].label == "goldfish" and reasons == ["restarted"] and len(server.seen) == 2
    assert seconds < 30, "sent again when the restart was seen, not when the unanswered try gave up (60 s)"


def test_a_restart_of_another_model_leaves_the_request_alone(server) -> None:
    server.script = [("held", 60.0, OK)]  # answered once the restart has been told
    reasons = []
    options = ClientOptions(server.url, FAST, on_retry=lambda model, reason: reasons.append(reason))
    answer, _ = _post_while_workers_restart(server, options, [(1, "other")])
    assert answer.topk[0].label == "goldfish" and reasons == [] and len(server.seen) == 1


def test_restarts_over_and_over_end_as_torchserve_unavailable(server) -> None:
    server.script = [("slow", 60.0, OK)]
    options = ClientOptions(server.url, RetryPolicy(retries=2, backoff_s=0.01), timeout_s=120)
    with pytest.raises(ApiError) as refused:
        _post_while_workers_restart(server, options, [(1, "m"), (2, "m"), (3, "m")])
    assert (refused.value.code, refused.value.status) == (ErrorCode.TORCHSERVE_UNAVAILABLE, 503)
    assert "restarted" in refused.value.message and len(server.seen) == 3
