"""The handler's `runtime` option (model-config.yaml's handler.runtime): the served network exported to ONNX when the
worker starts, proven, and run on ONNX Runtime or OpenVINO, answers plain requests and shift requests of other crop
sizes as the PyTorch runtime does (the same top-5, probabilities within 1e-4), and takes the same smallest crop;
settings it cannot honour are refused. (The handler without a server: TorchServe's own Context.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from antialiased.export.runtimes import OnnxModule
from antialiased.models import create_model
from antialiased.shifts import ShiftRequest
from antialiased.weights import get_entry, save_checkpoint
from archives.archive import model_spec
from archives.build import overrides_from_args
from handlers.image_classifier import ImageClassifier
from handlers.settings import HandlerSettings, SettingsError
from tests.support.export import photo_batch, seeded, spread_logits_
from tests.support.serving import PROBABILITY_TOLERANCE, encode, handle_batch, handler_context, photo

pytestmark = pytest.mark.slow

SPEC = model_spec(get_entry("resnet18_lpf4"))
IMAGE = encode(photo("chelsea"))
ROWS = [
    {"body": bytearray(IMAGE)},
    {"data": bytearray(IMAGE), "shifts": json.dumps(ShiftRequest(offsets=((0, 0), (3, 5), (8, 8))).to_json())},
    {"data": bytearray(IMAGE), "shifts": json.dumps(ShiftRequest(offsets=((0, 0), (2, 2)), crop_size=160,
                                                                 base_size=176, resize_size=192).to_json())},
]  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = spread_logits_(seeded(lambda: create_model("resnet18", 4)), photo_batch())
    return save_checkpoint(model, tmp_path_factory.mktemp("weights"), "resnet18_lpf4_random")


def _answers(checkpoint: Path, runtime: str) -> tuple[list[tuple[int, dict]], int]:
    context = handler_context("resnet18_lpf4", checkpoint, SPEC, {"handler": {"device": "cpu", "runtime": runtime}})
    handler = ImageClassifier()
    handler.initialize(context)
    assert isinstance(handler.model, OnnxModule) == (runtime != "torch")
    return handle_batch(handler, context, ROWS), handler.min_crop_size


@pytest.fixture(scope="module")
def torch_answers(checkpoint: Path) -> tuple[list[tuple[int, dict]], int]:
    return _answers(checkpoint, "torch")


def _predictions(answer: dict) -> list[list[dict]]:
    return [answer["topk"]] if "topk" in answer else [shift["topk"] for shift in answer["shifts"]]


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_runtime_answers_as_pytorch_does(checkpoint: Path, torch_answers: tuple, runtime: str) -> None:
    answers, min_crop_size = _answers(checkpoint, runtime)
    expected, expected_min_crop_size = torch_answers
    assert min_crop_size == expected_min_crop_size
    for (status, answer), (wanted_status, wanted) in zip(answers, expected, strict=True):
        assert status == wanted_status == 200, answer
        for got, want in zip(_predictions(answer), _predictions(wanted), strict=True):
            assert [p["index"] for p in got] == [p["index"] for p in want]
            assert [p["probability"] for p in got] == pytest.approx([p["probability"] for p in want],
                                                                   abs=PROBABILITY_TOLERANCE)  # fmt: skip
    assert max(p["probability"] for p in expected[0][1]["topk"]) > 0.1, "spread: the bound means something"


def _settings(**handler: object) -> HandlerSettings:
    context = handler_context("x", Path(__file__), SPEC, {"handler": {"device": "cpu", **handler}}, sha256="0" * 64)
    return HandlerSettings.from_model_config(context.model_yaml_config)


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        ({"runtime": "tensorrt"}, "handler.runtime must be one of torch, onnxruntime, openvino, got 'tensorrt'"),
        ({"runtime": "onnxruntime", "device": "cuda"}, "handler.runtime onnxruntime computes on the CPU"),
        ({"runtime": "openvino", "compile": True}, "handler.runtime openvino computes on the CPU"),
    ],
)
def test_a_runtime_setting_it_cannot_honour_is_refused(handler: dict, words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        _settings(**handler)


def test_the_serving_option_sets_the_runtime() -> None:
    import argparse

    from archives.build import add_serving_options

    parser = argparse.ArgumentParser()
    add_serving_options(parser)
    assert overrides_from_args(parser.parse_args(["--runtime", "openvino"]))["handler"] == {"runtime": "openvino"}
    assert _settings().runtime == "torch", "the default"
