"""The fractional and worst-case protocols through the probe service and the real TorchServe (the handler cuts the
sub-pixel views on its device) give the numbers of the in-process probe on the same network and weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from antialiased.local_probe import probe
from antialiased.protocols import ProbeSpec
from launcher.probe_service import ServiceProcess
from tests.support.served_models import LPF_MODEL
from tests.support.service import http_client
from tests.support.serving import reference_network

pytestmark = [pytest.mark.serving, pytest.mark.slow]

SPECS = {
    "fractional-fourier": {"protocol": "fractional", "max_shift": 1, "subpixel_step": 0.5},
    "worst-case-half-pixel-circular": {
        "protocol": "worst-case",
        "max_shift": 1,
        "half_pixel": True,
        "mode": "circular",
    },
    "worst-case-crop": {"protocol": "worst-case", "max_shift": 2},
}


@pytest.mark.parametrize("name", list(SPECS))
def test_the_service_and_the_in_process_probe_give_the_same_numbers(
    service: ServiceProcess, served_checkpoints: dict[str, Path], cat_jpeg: bytes, name: str
) -> None:
    query = SPECS[name]
    with http_client(service) as client:
        response = client.post("/v1/compare", params={**query, "models": LPF_MODEL}, content=cat_jpeg)
    assert response.status_code == 200, response.text
    body = response.json()
    served = body["results"][0]["metrics"]
    local = probe(reference_network(LPF_MODEL, served_checkpoints[LPF_MODEL]), cat_jpeg, ProbeSpec(**query))
    assert [tuple(o) for o in body["plan"]["offsets"]] == list(local.plan.offsets)
    expected = local.metrics.origin
    origin = served["origin"]
    assert (origin["top_class"], origin["kept_fraction"]) == (expected.top_class, expected.kept_fraction)
    assert tuple(origin["worst_shift"]) == expected.worst_shift
    assert origin["curve"] == pytest.approx(expected.curve, abs=1e-4)
    assert served["consistency"] == local.metrics.consistency
