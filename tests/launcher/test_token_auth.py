"""TorchServe with token authorization on: requests without the key are refused (inference and management: what a
local user could otherwise do, e.g. start 50 workers), the keys are renewed before they expire, and a client
that reads the key file at each request (as the probe service does) keeps working across renewals."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from antialiased.serving.torchserve_keys import api_headers, read_keys
from launcher.keys import KeyRenewal, seconds_until_due
from launcher.probe_service import start_service
from launcher.torchserve import TorchServe, start_torchserve
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.serving import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]

EXPIRATION_MIN = 0.3  # 18 s keys, renewed when 9 s are left: a renewal late by less than 9 s lapses no key
RENEWALS = 2  # the tests send requests until the keys have been renewed this many times
IMAGE = encode(photo("chelsea"))
T = TypeVar("T")


@pytest.fixture(scope="module")
def keyed_torchserve(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    workdir = tmp_path_factory.mktemp("keyed_torchserve")
    server = start_torchserve(
        model_store, [CIRCULAR_MODEL], workdir, token_auth=True, token_expiration_min=EXPIRATION_MIN,
        log_file=workdir / "torchserve.out",
    )  # fmt: skip
    try:
        with KeyRenewal(server):  # as the stack runs it: renewing from the start, so the 6-s keys never lapse
            server.wait_until_ready(240)
            yield server
    finally:
        server.stop()


def _refused(response: httpx.Response) -> bool:
    """TorchServe refuses a missing or wrong key with a 400 of its own (not a 401)."""
    return response.status_code == 400 and "Token Authorization failed" in response.text


def test_requests_without_the_key_are_refused(keyed_torchserve: TorchServe) -> None:
    url = f"{keyed_torchserve.inference_url}/predictions/{CIRCULAR_MODEL}"
    assert _refused(httpx.post(url, content=IMAGE, timeout=60))
    scale = f"{keyed_torchserve.management_url}/models/{CIRCULAR_MODEL}?min_worker=50"
    assert _refused(httpx.put(scale, timeout=60)), "no scaling (or unloading) without the management key"
    assert len(keyed_torchserve.workers(CIRCULAR_MODEL)) == 1
    assert keyed_torchserve.key_file.stat().st_mode & 0o077 == 0, "the key file is readable by its owner only"
    assert keyed_torchserve.workdir.stat().st_mode & 0o077 == 0


def _inference_key(server: TorchServe) -> str:
    return read_keys(server.key_file)["inference"]["key"]


def _until_renewed(server: TorchServe, request: Callable[[], T]) -> list[T]:
    """`request()`'s results, called every 0.2 s until the keys have been renewed RENEWALS times."""
    keys, results = [_inference_key(server)], []
    deadline = time.monotonic() + (RENEWALS + 1) * EXPIRATION_MIN * 60 + 60
    while len(keys) <= RENEWALS:
        assert time.monotonic() < deadline, f"renewed {len(keys) - 1} times, not {RENEWALS}, in time"
        results.append(request())
        if _inference_key(server) != keys[-1]:
            keys.append(_inference_key(server))
        time.sleep(0.2)
    return results


def test_keys_are_renewed_and_a_client_reading_the_key_file_keeps_working(keyed_torchserve: TorchServe) -> None:
    first_key = _inference_key(keyed_torchserve)
    statuses = _until_renewed(keyed_torchserve, lambda: keyed_torchserve.predict(CIRCULAR_MODEL, IMAGE).status_code)
    assert statuses and set(statuses) == {200}, statuses
    stale = httpx.post(
        f"{keyed_torchserve.inference_url}/predictions/{CIRCULAR_MODEL}",
        content=IMAGE,
        headers={"Authorization": f"Bearer {first_key}"},
        timeout=60,
    )
    assert _refused(stale), "a renewed key replaces the old one"


def test_the_probe_service_keeps_working_across_key_renewals(keyed_torchserve: TorchServe, tmp_path: Path) -> None:
    env = {"PROBE_MODELS": CIRCULAR_MODEL, "PROBE_TORCHSERVE_KEY_FILE": str(keyed_torchserve.key_file),
           "PROBE_TORCHSERVE_MANAGEMENT_URL": keyed_torchserve.management_url}  # fmt: skip
    with start_service(keyed_torchserve.inference_url, env=env, log_file=tmp_path / "probe.log") as probe:

        def probe_once() -> tuple[int, str]:
            response = httpx.post(f"{probe.url}/v1/stability", params={"pairs": 2}, content=IMAGE, timeout=60)
            return response.status_code, response.text[:300]

        statuses = _until_renewed(keyed_torchserve, probe_once)
        ready = httpx.get(f"{probe.url}/readyz", timeout=5).json()
    assert statuses and {status for status, _ in statuses} == {200}, [answer for answer in statuses if answer[0] != 200]
    assert ready["models"][CIRCULAR_MODEL]["workers"] == ["READY"], "the management key opens the worker states"


def _key_file(key: str, expires: datetime) -> str:
    """A key file as TorchServe writes it (Java's Instant.toString() gives nanoseconds)."""
    expiry = expires.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    entry = {"key": key, "expiration time": expiry}
    return json.dumps({"management": entry, "inference": entry, "API": {"key": "api"}}, indent=2)


def test_a_key_file_caught_half_rewritten_is_read_again(tmp_path: Path) -> None:
    """TorchServe rewrites the key file in place (truncate, then write) at each renewal: readers must never see
    the empty or half-written file as an error."""
    path = tmp_path / "key_file.json"
    texts = [_key_file(key, datetime.now(UTC)) for key in ("first", "second")]
    path.write_text(texts[0])
    stop = threading.Event()

    def rewrite() -> None:
        for turn in itertools.count():
            if stop.is_set():
                return
            with path.open("w") as file:  # truncates, then writes in two parts, as a slow writer would
                text = texts[turn % 2]
                file.write(text[: len(text) // 2])
                file.flush()
                file.write(text[len(text) // 2 :])
            time.sleep(0.002)  # renewals come one after another, not all at once

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        keys = {api_headers(path)["Authorization"] for _ in range(2000)}
    finally:
        stop.set()
        writer.join()
    assert keys <= {"Bearer first", "Bearer second"} and keys


def test_a_key_file_that_stays_broken_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "key_file.json"
    path.write_text('{"inference": {"key": "ab')
    with pytest.raises(ValueError):
        api_headers(path)


def test_keys_are_renewed_when_half_their_lifetime_is_left_not_before(tmp_path: Path) -> None:
    path, lifetime_s = tmp_path / "key_file.json", 3600.0
    path.write_text(_key_file("fresh", datetime.now(UTC) + timedelta(seconds=lifetime_s)))
    assert seconds_until_due(path, lifetime_s) == pytest.approx(lifetime_s / 2, abs=5)
    path.write_text(_key_file("old", datetime.now(UTC) + timedelta(seconds=lifetime_s / 4)))
    assert seconds_until_due(path, lifetime_s) == pytest.approx(-lifetime_s / 4, abs=5)
