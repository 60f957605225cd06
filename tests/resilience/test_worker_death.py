"""A worker killed mid-traffic: the probe service loses no request (it retries the predictions the dead worker held),
and its /readyz, answering at once throughout, goes red while the worker is down and green when it is back."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from launcher.torchserve import TorchServe
from tests.support.resilience import start_probe
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.service import sample_value
from tests.support.serving import encode, photo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.serving, pytest.mark.slow]

READY_TIMEOUT_S = 5.0  # a readiness check waits at most this long for TorchServe: /readyz must never
READINESS = {"PROBE_READY_INTERVAL_S": "0.3", "PROBE_READY_TIMEOUT_S": str(READY_TIMEOUT_S), "PROBE_READY_IDLE_S": "2"}


def test_killed_worker_loses_no_probe_request_and_readiness_goes_red_then_green(
    fragile_torchserve: TorchServe, tmp_path: Path
) -> None:
    image = encode(photo("chelsea"))
    with start_probe(fragile_torchserve, tmp_path / "probe.log", **READINESS) as probe:
        client = httpx.Client(base_url=probe.url, timeout=120)
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, "ready")
        stop = threading.Event()
        readiness: list[tuple[int, float]] = []  # (status, seconds to answer)
        statuses: list[int] = []

        def watch_readiness() -> None:
            while not stop.is_set():
                start = time.monotonic()
                status = client.get("/readyz").status_code
                readiness.append((status, time.monotonic() - start))
                time.sleep(0.1)

        def traffic() -> None:
            while not stop.is_set():
                statuses.append(client.post("/v1/stability", params={"pairs": 4}, content=image).status_code)

        with ThreadPoolExecutor(5) as pool:
            watcher = pool.submit(watch_readiness)
            clients = [pool.submit(traffic) for _ in range(4)]
            wait_until(lambda: len(statuses) >= 8 and readiness, 60, "traffic answered, readiness watched")
            (worker,) = fragile_torchserve.workers(CIRCULAR_MODEL)
            os.kill(worker["pid"], signal.SIGKILL)
            wait_until(lambda: any(status == 503 for status, _ in readiness), 30, "not ready while the worker is down")
            wait_until(lambda: readiness[-1][0] == 200 and fragile_torchserve.workers(CIRCULAR_MODEL)[0]["pid"]
                       != worker["pid"], 90, "ready again on a new worker")  # fmt: skip
            answered = len(statuses)
            wait_until(lambda: len(statuses) >= answered + 8, 60, "traffic answered by the new worker")
            stop.set()
            for future in [*clients, watcher]:
                future.result()
        retries = sample_value(client.get("/metrics").text, "probe_torchserve_retries_total")
    assert statuses and set(statuses) == {200}, f"lost requests: {[s for s in statuses if s != 200]}"
    assert retries >= 1, "the requests the dead worker held were sent again"
    codes = [status for status, _ in readiness]
    first_red = codes.index(503)
    assert 200 in codes[:first_red] and 200 in codes[first_red:], "ready, then not ready, then ready again"
    slowest = max(seconds for _, seconds in readiness)
    assert slowest < READY_TIMEOUT_S, f"/readyz waits for no readiness check, even while the model is down: {slowest}"
