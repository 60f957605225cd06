"""What the service tests share: the models the test TorchServe serves, the limits the tests exceed, the photos."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from launcher.probe_service import ServiceProcess, start_service
from launcher.torchserve import TorchServe
from tests.support.served_models import SERVED_MODELS
from tests.support.waiting import wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "service" / "static" / "samples"
MAX_UPLOAD_BYTES = 3_000_000
MAX_PIXELS = 20_000_000
MAX_OFFSETS = 64
API_KEY = "test-key-0123456789"
SLOW_BODY_TIMEOUT_S = 2.0  # the body timeout of the service that the slow-client tests use


def http_client(service: ServiceProcess) -> httpx.Client:
    """An HTTP client for `service`, patient enough for ResNet50 on a CPU."""
    return httpx.Client(base_url=service.url, timeout=120)


def torchserve_env(torchserve: TorchServe) -> dict[str, str]:
    """Settings that let the service see TorchServe's workers, and in when its token authorization is on."""
    env = {"PROBE_TORCHSERVE_MANAGEMENT_URL": torchserve.management_url}
    return env | ({"PROBE_TORCHSERVE_KEY_FILE": str(torchserve.key_file)} if torchserve.key_file else {})


def start_test_service(torchserve_url: str, log_file: Path, **env: str) -> ServiceProcess:
    """A probe service for the served test models, with small limits the tests can exceed cheaply."""
    settings = {
        "PROBE_MODELS": ",".join(SERVED_MODELS),
        "PROBE_IMAGE__MAX_BYTES": str(MAX_UPLOAD_BYTES),
        "PROBE_IMAGE__MAX_PIXELS": str(MAX_PIXELS),
        "PROBE_MAX_OFFSETS": str(MAX_OFFSETS),
        # One readiness prediction at start, then none: they would skew the serving tests' counts.
        "PROBE_READY_INTERVAL_S": "600",
        "PROBE_READY_IDLE_S": "3600",
    }
    return start_service(torchserve_url, env={**settings, **env}, log_file=log_file)


def wait_until_ready(service: ServiceProcess, timeout_s: float = 120.0) -> None:
    """Until /readyz says ready: the readiness monitor makes its first predictions as the service starts."""
    with http_client(service) as client:
        try:
            wait_until(lambda: client.get("/readyz").status_code == 200, timeout_s, "ready", every_s=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}: {client.get('/readyz').text}") from None


def sample_value(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def served_assets(client: httpx.Client, page: str) -> list[str]:
    """The assets an API docs page (/docs, /redoc) refers to, each asserted served by the service itself (the page
    works without internet access)."""
    text = client.get(page).text
    assets = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", text)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
    return assets
