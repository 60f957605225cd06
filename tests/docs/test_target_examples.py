"""The examples of docs/open-inference-protocol.md and docs/targets.md, run: the tritonclient code against the
service's /v2, and the PROBE_TARGETS examples for a stock TorchServe model and a KServe model against the real
servers of the target tests (their URLs, model names and, for KServe, label list put in), with an `oip` target on
the service's own /v2 (binary BYTES tensors)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from antialiased.imagefile import ImageLimits
from antialiased.protocols import ProbeSpec, make_plan
from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from service.settings import Settings
from service.views import encode_view, image_views
from tests.service.targets import tiny_classifier
from tests.service.targets.references import CAT, assert_shifts_match, stock_reference, tiny_reference
from tests.support.docs_commands import code_blocks
from tests.support.served_models import BASELINE_MODEL
from tests.support.service import (
    MAX_OFFSETS,
    SAMPLES,
    http_client,
    wait_until_ready,
)
from tests.support.serving import reference_network, reference_probabilities
from tests.support.targets import STOCK_MODEL, start_target_service

pytestmark = [pytest.mark.serving, pytest.mark.slow]

SPEC = {"protocol": "diagonal", "max_shift": 2}


def test_the_tritonclient_example_runs(target_service: ServiceProcess, tmp_path: Path) -> None:
    (code,) = code_blocks("open-inference-protocol.md", "python")
    (tmp_path / "photo.jpg").write_bytes((SAMPLES / "chelsea.jpg").read_bytes())
    wait_until_ready(target_service)  # the example asks for a ready server
    code = code.replace("127.0.0.1:8000", target_service.url.removeprefix("http://"))
    code = code.replace('"photo.jpg"', repr(str(tmp_path / "photo.jpg")))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/open-inference-protocol.md", "exec"), {})
    first, rest = printed.getvalue().split("\n", 1)
    assert first.startswith("(2, 1000) [")
    assert len(re.findall(r"b'[0-9.e-]+:\d+:[^']+'", rest)) == 3, rest


@pytest.fixture(scope="module")
def example_targets_service(
    torchserve: TorchServe,
    stock_torchserve: tuple[TorchServe, Path],
    kserve_server: str,
    target_service: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    stock, _, kserve = (json.loads(block)[0] for block in code_blocks("targets.md", "json"))
    targets = [
        {**stock, "url": stock_torchserve[0].inference_url, "model": STOCK_MODEL},
        {**kserve, "url": kserve_server, "model": "tiny_png", "labels": tiny_classifier.LABELS},
        {"name": "own_v2", "kind": "oip", "url": target_service.url, "model": BASELINE_MODEL, "input": "image",
         "datatype": "BYTES", "output": "probabilities"},
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("example_targets_service") / "service.log"
    with start_target_service(torchserve, targets, log) as running:
        yield running


def test_the_target_examples_probe_a_stock_torchserve_and_a_kserve_model(
    example_targets_service: ServiceProcess,
    stock_torchserve: tuple[TorchServe, Path],
    served_checkpoints: dict[str, Path],
) -> None:
    with http_client(example_targets_service) as client:
        response = client.post("/v1/compare", params={**SPEC, "models": "my_torchserve,my_kserve,own_v2"}, content=CAT)
    assert response.status_code == 200, response.text
    stock, kserve, own = response.json()["results"]
    spec = ProbeSpec(**SPEC)
    assert_shifts_match(stock["shifts"], stock_reference(stock_torchserve[1], spec).numpy(), 1e-5)
    assert_shifts_match(kserve["shifts"], tiny_reference(spec), 1e-6)
    # Our /v2 classifies each PNG view as it classifies any image: resized to 256, center crop 224.
    network = reference_network(BASELINE_MODEL, served_checkpoints[BASELINE_MODEL])
    views = image_views(CAT, make_plan(spec, MAX_OFFSETS).request, ImageLimits())
    expected = torch.cat([reference_probabilities(network, encode_view(view, "PNG")) for view in views])
    assert_shifts_match(own["shifts"], expected.numpy(), 1e-5)


def test_the_triton_example_is_a_valid_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_TARGETS", code_blocks("targets.md", "json")[1])
    (triton,) = Settings().targets
    assert (triton.kind, triton.datatype, triton.layout, triton.scores) == ("oip", "FP32", "NCHW", "logits")
    assert np.array_equal(triton.mean, (0.485, 0.456, 0.406))
