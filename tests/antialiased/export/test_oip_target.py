"""The exported antialiased ResNet50 served by a real model server speaking the Open Inference Protocol (KServe's
model server, with ONNX Runtime), probed by the probe service as an `oip` target: on every view of each protocol
(paper, diagonal, fractional, a small worst-case window) it answers the eager model's top-5 with probabilities within
1e-4, and the service scores it as the eager model scores. The reference is the eager model on the views the service
cuts itself (service.views; for sub-pixel shifts they are rounded to uint8, the images such targets take)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from antialiased.export.parity import PROBABILITY_TOLERANCE
from antialiased.imagefile import ImageLimits
from antialiased.metrics import TOP5, summarize
from antialiased.protocols import make_plan
from antialiased.transforms import normalize
from launcher.ports import free_port
from launcher.probe_service import ServiceProcess
from service.views import image_views
from tests.antialiased.export.stability import PROBES, assert_same_metrics
from tests.service.targets.kserve_venv import kserve_onnx_python
from tests.service.targets.references import assert_shifts_match
from tests.support.docs_commands import code_blocks
from tests.support.export import Exported
from tests.support.service import MAX_OFFSETS, SAMPLES, http_client, start_test_service
from tests.support.targets import kserve_model_server

pytestmark = pytest.mark.slow

CAT = (SAMPLES / "chelsea.jpg").read_bytes()
SERVED_NAME = "resnet50_lpf4"
TARGET = "resnet50_lpf4_onnx"
SERVER = Path(__file__).resolve().parents[2] / "service" / "targets" / "kserve_onnx_server.py"


@pytest.fixture(scope="module")
def onnx_server(antialiased_resnet50: Exported, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """KServe's model server serving the exported file as SERVED_NAME: its base URL, once the model is ready."""
    log = tmp_path_factory.mktemp("kserve_onnx") / "kserve.log"
    args = [SERVED_NAME, str(antialiased_resnet50.path)]
    with kserve_model_server(SERVER, args, SERVED_NAME, log, 180, kserve_onnx_python()) as url:
        yield url


@pytest.fixture(scope="module")
def service(onnx_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The probe service with the served ONNX model as its only target (no TorchServe: PROBE_MODELS is empty), its
    settings docs/export.md's PROBE_TARGETS entry with this server's URL and model name."""
    (target,) = json.loads(code_blocks("export.md", "json")[0])  # the docs' Triton entry, on this server
    target = {**target, "name": TARGET, "url": onnx_server, "model": SERVED_NAME}
    log = tmp_path_factory.mktemp("oip_service") / "service.log"
    unused = f"http://127.0.0.1:{free_port()}"  # the service's TorchServe: no model of PROBE_MODELS is on it
    with start_test_service(unused, log, PROBE_MODELS="", PROBE_TARGETS=json.dumps([target])) as running:
        yield running


@torch.inference_mode()
def eager_reference(model: torch.nn.Module, protocol: str) -> tuple[np.ndarray, dict]:
    """The eager model's probabilities on the views the service cuts, and the metrics the probe computes of them."""
    plan = make_plan(PROBES[protocol], MAX_OFFSETS)
    views = torch.from_numpy(image_views(CAT, plan.request, ImageLimits())).permute(0, 3, 1, 2)
    probabilities = model(normalize(views)).softmax(dim=1)
    rankings = probabilities.topk(TOP5, dim=1).indices.tolist()
    curves = {c: probabilities[:, c].tolist() for c in sorted({r[0] for r in rankings})}
    metrics = summarize(plan.offsets, plan.pairs, plan.sequence, rankings, curves, plan.reference, plan.shifts)
    return probabilities.numpy(), metrics.to_json()


def _params(protocol: str) -> dict:
    return {**PROBES[protocol].model_dump(exclude_unset=True), "model": TARGET, "topk": TOP5}


@pytest.mark.parametrize("protocol", sorted(PROBES))
def test_the_served_onnx_model_answers_every_view_as_the_eager_model(
    service: ServiceProcess, antialiased_resnet50: Exported, protocol: str
) -> None:
    with http_client(service) as client:
        response = client.post("/v1/stability", params=_params(protocol), content=CAT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["target"], body["target_kind"]) == (TARGET, "oip")
    probabilities, metrics = eager_reference(antialiased_resnet50.model, protocol)
    assert body["plan"]["offsets"] == [list(o) for o in make_plan(PROBES[protocol], MAX_OFFSETS).offsets]
    assert_shifts_match(body["shifts"], probabilities, PROBABILITY_TOLERANCE)
    assert body["score"] == metrics["consistency"]
    assert_same_metrics(body["metrics"], metrics)
    for cls, curve in body["class_probabilities"].items():
        assert curve == pytest.approx(probabilities[:, int(cls)].tolist(), abs=PROBABILITY_TOLERANCE)


def test_the_integer_shift_views_are_the_librarys_so_the_score_is_the_in_process_probes(
    service: ServiceProcess, antialiased_resnet50: Exported
) -> None:
    from antialiased.local_probe import probe

    with http_client(service) as client:
        body = client.post("/v1/stability", params=_params("paper"), content=CAT).json()
    in_process = probe(antialiased_resnet50.model, CAT, PROBES["paper"], topk=TOP5)
    assert body["score"] == in_process.score
    assert [s["topk"][0]["index"] for s in body["shifts"]] == [view[0][0] for view in in_process.topk]
