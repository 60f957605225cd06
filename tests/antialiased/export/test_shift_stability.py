"""The exported antialiased ResNet50 is as shift-stable as the eager one, in process: the probe's protocols (paper,
diagonal, fractional, a small worst-case window) run on the ONNX file through ONNX Runtime give the eager model's
top-1 on every view, its scores and metrics, and its probabilities within 1e-4. (Through a real KServe model server
probed as an `oip` target: tests/antialiased/export/test_oip_target.py.)"""

from __future__ import annotations

import pytest

from antialiased.export.parity import PROBABILITY_TOLERANCE
from antialiased.export.runtimes import OnnxModule
from antialiased.local_probe import probe
from tests.antialiased.export.stability import PROBES, assert_same_metrics
from tests.support.export import Exported
from tests.support.service import SAMPLES

pytestmark = pytest.mark.slow

CAT = (SAMPLES / "chelsea.jpg").read_bytes()


@pytest.mark.parametrize("protocol", sorted(PROBES))
def test_the_onnx_model_answers_every_view_of_a_probe_as_the_eager_model(
    antialiased_resnet50: Exported, protocol: str
) -> None:
    eager = probe(antialiased_resnet50.model, CAT, PROBES[protocol], topk=5)
    exported = probe(OnnxModule(antialiased_resnet50.path), CAT, PROBES[protocol], topk=5)
    assert exported.plan == eager.plan
    for got, expected in zip(exported.topk, eager.topk, strict=True):
        assert [c for c, _ in got] == [c for c, _ in expected], "the same top-5 classes, in order, on every view"
        assert [p for _, p in got] == pytest.approx([p for _, p in expected], abs=PROBABILITY_TOLERANCE)
    assert exported.score == eager.score
    assert_same_metrics(exported.metrics, eager.metrics)
    assert exported.class_probabilities.keys() == eager.class_probabilities.keys()
    for cls, curve in exported.class_probabilities.items():
        assert curve == pytest.approx(eager.class_probabilities[cls], abs=PROBABILITY_TOLERANCE)
    assert max(p for view in eager.topk for _, p in view[:1]) > 0.1, "probabilities spread: the bound means something"
