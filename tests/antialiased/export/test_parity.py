"""Parity of exported ONNX files with eager PyTorch, measured: probabilities within 1e-4 on ONNX Runtime for a sample
of the zoo (every architecture: `make export-check`), an `antialias()`-rewritten timm network, and the ResNet50 pair
on ONNX Runtime and OpenVINO; a wrong layer makes the row fail and name that layer and the runtime's version."""

from __future__ import annotations

from pathlib import Path

import onnx
import openvino
import pytest
import timm
import torch

from antialiased import antialias
from antialiased.export.onnx import export_onnx
from antialiased.export.parity import PROBABILITY_TOLERANCE, check_parity
from antialiased.export.runtimes import RUNTIMES, runtime_version
from antialiased.export.source import ExportSource
from antialiased.label_sets import IMAGENET
from antialiased.models import create_model
from antialiased.preprocessing import Preprocessing
from tests.support.export import Exported, photo_batch, seeded, spread_logits_

ZOO_SAMPLE = ("resnet18", "mobilenet_v2")  # BasicBlock and inverted-residual blurs; the pair covers Bottleneck
TIMM_SIZE = 128


def _assert_passes(row, inputs: int = 3) -> None:
    assert row.passed, row.describe()
    assert row.max_probability_difference <= PROBABILITY_TOLERANCE
    assert row.same_top1 == row.inputs == inputs


@pytest.mark.parametrize("arch", ZOO_SAMPLE)
def test_zoo_architecture_at_its_default_filter_size_equals_eager_on_onnx_runtime(arch: str, tmp_path: Path) -> None:
    photos = photo_batch()
    model = spread_logits_(seeded(lambda: create_model(arch)), photos)
    path = export_onnx(ExportSource(arch, model, IMAGENET, arch, 4), tmp_path / f"{arch}.onnx")
    _assert_passes(check_parity(model, path, "onnxruntime", inputs=photos))


def test_antialias_rewritten_timm_network_equals_eager_on_onnx_runtime(tmp_path: Path) -> None:
    photos = photo_batch(TIMM_SIZE)
    rewritten = antialias(seeded(lambda: timm.create_model("efficientnet_b0", pretrained=False)),
                          input_shape=(1, 3, TIMM_SIZE, TIMM_SIZE)).model  # fmt: skip
    model = spread_logits_(rewritten, photos)
    source = ExportSource("efficientnet_b0_lpf4", model, IMAGENET, "timm:efficientnet_b0", 4,
                          Preprocessing(crop_size=TIMM_SIZE))  # fmt: skip
    path = export_onnx(source, tmp_path / "efficientnet_b0_lpf4.onnx")
    _assert_passes(check_parity(model, path, "onnxruntime", inputs=photos))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", ["resnet50_lpf4", "resnet50"])
def test_resnet50_pair_equals_eager_on_onnx_runtime_and_openvino(
    resnet50_pair: dict[str, Exported], name: str, runtime: str
) -> None:
    model, path = resnet50_pair[name]
    row = check_parity(model, path, runtime, inputs=photo_batch())
    _assert_passes(row)
    assert row.runtime == runtime_version(runtime) and row.model == name
    assert row.first_diverging_layer is None


def test_openvino_at_its_default_precision_breaks_parity_here_so_sessions_ask_for_float32(
    antialiased_resnet50: Exported,
) -> None:
    core = openvino.Core()
    if core.get_property("CPU", "INFERENCE_PRECISION_HINT") != openvino.Type.bf16:
        pytest.skip("this CPU has no bfloat16 instructions: OpenVINO computes float32 by default here")
    photos = photo_batch()
    compiled = core.compile_model(core.read_model(str(antialiased_resnet50.path)), "CPU")
    logits = torch.from_numpy(compiled(photos.numpy())[0])
    with torch.inference_mode():
        expected = antialiased_resnet50.model(photos)
    assert (logits.softmax(1) - expected.softmax(1)).abs().max() > PROBABILITY_TOLERANCE
    _assert_passes(check_parity(antialiased_resnet50.model, antialiased_resnet50.path, "openvino", inputs=photos))


BROKEN_BLUR = "layer3.0.conv3.0"  # a BlurPool of the third stage's shortcut-free path


def _with_wrong_padding(source: Path, destination: Path, layer: str) -> Path:
    """A copy of the ONNX file whose reflect padding in `layer` is edge padding: what a wrong runtime would do."""
    proto = onnx.load_model(str(source))
    in_layer = [n for n in proto.graph.node if any(f"'{layer}'" in p.value for p in n.metadata_props)]
    pads = [node for node in in_layer if node.op_type == "Pad"]
    assert len(pads) == 1
    (mode,) = [a for a in pads[0].attribute if a.name == "mode"]
    assert mode.s == b"reflect"
    mode.s = b"edge"
    onnx.save_model(proto, str(destination))
    return destination


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_failing_row_names_the_first_diverging_layer_and_the_runtime_version(
    antialiased_resnet50: Exported, tmp_path: Path, runtime: str
) -> None:
    broken = _with_wrong_padding(antialiased_resnet50.path, tmp_path / "broken.onnx", BROKEN_BLUR)
    row = check_parity(antialiased_resnet50.model, broken, runtime, inputs=photo_batch())
    assert not row.passed and row.max_probability_difference > PROBABILITY_TOLERANCE
    assert row.first_diverging_layer == BROKEN_BLUR
    assert row.runtime == runtime_version(runtime)
    assert f"first diverging layer: '{BROKEN_BLUR}'" in row.describe() and runtime_version(runtime) in row.describe()
