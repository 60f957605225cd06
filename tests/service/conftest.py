"""Probe services for the tests, real uvicorn subprocesses in front of the session's real TorchServe (the
`torchserve` fixture of tests/conftest.py) or of a closed port, and real photos to send them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.ports import free_port
from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.support.fake_torchserve import FakeTorchServe
from tests.support.service import API_KEY, SAMPLES, SLOW_BODY_TIMEOUT_S, start_test_service, torchserve_env


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTorchServe]:
    """A fake TorchServe for one test module (tests/support/fake_torchserve.py), for the in-process app's tests."""
    with FakeTorchServe() as server:
        yield server


@pytest.fixture(scope="session")
def service(torchserve: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The probe service in front of the real TorchServe."""
    log = tmp_path_factory.mktemp("service") / "service.log"
    with start_test_service(torchserve.inference_url, log, **torchserve_env(torchserve)) as running:
        yield running


@pytest.fixture(scope="session")
def keyed_service(torchserve: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The probe service requiring an API key."""
    log = tmp_path_factory.mktemp("keyed") / "service.log"
    env = {**torchserve_env(torchserve), "PROBE_API_KEY": API_KEY}
    with start_test_service(torchserve.inference_url, log, **env) as running:
        yield running


@pytest.fixture
def closed_port_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    """The probe service pointed at a local port where nothing listens: TorchServe is down."""
    with start_test_service(f"http://127.0.0.1:{free_port()}", tmp_path / "service.log") as running:
        yield running


@pytest.fixture
def slow_body_service(torchserve: TorchServe, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The probe service with a short body timeout, for clients that send less than they declare."""
    env = {**torchserve_env(torchserve), "PROBE_BODY_TIMEOUT_S": str(SLOW_BODY_TIMEOUT_S)}
    with start_test_service(torchserve.inference_url, tmp_path / "service.log", **env) as running:
        yield running


@pytest.fixture
def impatient_service(torchserve: TorchServe, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The probe service in front of the real TorchServe with a read timeout far below one ResNet50 forward."""
    env = {**torchserve_env(torchserve), "PROBE_TIMEOUT_S": "0.01", "PROBE_RETRIES": "0"}
    with start_test_service(torchserve.inference_url, tmp_path / "service.log", **env) as running:
        yield running


@pytest.fixture(scope="session")
def cat_jpeg() -> bytes:
    return (SAMPLES / "chelsea.jpg").read_bytes()


@pytest.fixture(scope="session")
def coffee_jpeg() -> bytes:
    return (SAMPLES / "coffee.jpg").read_bytes()
