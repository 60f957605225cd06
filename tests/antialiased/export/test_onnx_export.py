"""The ONNX file `export_onnx` writes: opset 18, a dynamic batch, named input and output, the label set and the
preprocessing in its metadata, no path of the exporting machine; and every bad input a clear error: a model the
exporter cannot take names the layer and the exporter's reason, a corrupt or foreign file given to the parity
check is an OnnxFileError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from antialiased.export.onnx import (
    INPUT_NAME,
    OPSET,
    OUTPUT_NAME,
    LayerExportError,
    OnnxFileError,
    export_onnx,
    read_facts,
)
from antialiased.export.parity import check_parity
from antialiased.export.runtimes import OnnxModule, open_session
from antialiased.export.source import ExportError
from antialiased.label_sets import LabelSet
from launcher.probe_service import PROJECT_ROOT
from tests.antialiased.export.tiny import LABELS, PREPROCESSING, SIZE, export_tiny, tiny_network, tiny_source

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    network = tiny_network()
    return network, export_tiny(tmp_path_factory.mktemp("tiny") / "tiny.onnx", network)


def test_the_file_has_opset_18_a_dynamic_batch_and_named_tensors(tiny: tuple[nn.Module, Path]) -> None:
    proto = onnx.load_model(str(tiny[1]))
    onnx.checker.check_model(proto, full_check=True)
    assert {o.domain: o.version for o in proto.opset_import}[""] >= OPSET == 18
    (image,), (logits,) = proto.graph.input, proto.graph.output
    assert (image.name, logits.name) == (INPUT_NAME, OUTPUT_NAME)
    image_dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert image_dims == ["batch", 3, SIZE, SIZE]
    assert [d.dim_param or d.dim_value for d in logits.type.tensor_type.shape.dim] == ["batch", len(LABELS)]
    assert any(node.op_type == "Pad" for node in proto.graph.node), "the blur's reflect padding is one Pad"


def test_the_metadata_carries_the_label_set_and_the_preprocessing(tiny: tuple[nn.Module, Path]) -> None:
    props = {p.key: p.value for p in onnx.load_model(str(tiny[1])).metadata_props}
    assert json.loads(props["labels"]) == list(LABELS.names)
    assert json.loads(props["preprocessing"]) == {"resize_size": 36, "crop_size": SIZE, "mean": [0.5] * 3,
                                                  "std": [0.25] * 3}  # fmt: skip
    facts = read_facts(tiny[1])
    assert (facts.name, facts.label_set, facts.preprocessing) == ("tiny_lpf4", LABELS, PREPROCESSING)


def test_class_ids_of_the_label_set_travel_too(tmp_path: Path) -> None:
    labels = LabelSet.of_names(LABELS.names, [f"id{index}" for index in range(len(LABELS))])
    path = export_onnx(tiny_source(labels=labels), tmp_path / "ids.onnx")
    assert read_facts(path).label_set == labels


def test_no_path_of_the_exporting_machine_is_in_the_file(tiny: tuple[nn.Module, Path]) -> None:
    data = tiny[1].read_bytes()
    assert str(PROJECT_ROOT).encode() not in data and b"site-packages" not in data
    assert b"pkg.torch.onnx.name_scopes" in data, "the module scopes stay: the parity check names layers by them"


@pytest.mark.parametrize("batch", [1, 7])
def test_any_batch_size_runs_and_equals_eager(tiny: tuple[nn.Module, Path], batch: int) -> None:
    network, path = tiny
    x = torch.randn(batch, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(batch))
    with torch.inference_mode():
        expected = network(x)
    for runtime in ("onnxruntime", "openvino"):
        assert np.abs(OnnxModule(path, runtime)(x).numpy() - expected.numpy()).max() < 1e-5, runtime


def test_the_export_leaves_the_models_mode_as_it_was(tmp_path: Path) -> None:
    network = tiny_network().train()
    export_tiny(tmp_path / "tiny.onnx", network)
    assert network.training


def test_a_label_set_of_another_size_than_the_models_classes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="the network answers 5 classes, its label set names 3"):
        export_onnx(tiny_source(labels=LabelSet.of_names(LABELS.names[:3])), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_an_opset_older_than_18_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="opset must be 18 or newer, got 17"):
        export_onnx(tiny_source(), tmp_path / "x.onnx", opset=17)


class DataDependent(nn.Module):
    """Python control flow on a tensor's value: torch.export cannot trace it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.mean() > 0 else x


class KthValue(nn.Module):
    """An operator without an ONNX translation (aten.kthvalue)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.kthvalue(x, 2, dim=1, keepdim=True).values.expand_as(x)


class WithHead(nn.Module):
    """The tiny network, then `head` (N, 5) -> (N, 5) as the second layer of a Sequential: layer 'head.1'."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.body = tiny_network()
        self.head = nn.Sequential(nn.Identity(), head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        (DataDependent(), "GuardOnDataDependentSymNode: Could not guard on data-dependent expression"),
        (KthValue(), "DispatchError: No ONNX function found for <OpOverload(op='aten.kthvalue'"),
    ],
)
def test_a_model_the_exporter_cannot_take_names_the_layer_and_the_exporters_reason(
    tmp_path: Path, layer: nn.Module, reason: str
) -> None:
    with pytest.raises(LayerExportError) as caught:
        export_onnx(tiny_source(WithHead(layer)), tmp_path / "x.onnx")
    assert caught.value.layer == "head.1"
    assert str(caught.value).startswith(f"cannot export layer 'head.1' ({type(layer).__name__}): {reason}")
    assert "\n" not in str(caught.value), "one line, without the exporter's advice"


def _foreign_model(path: Path) -> Path:
    """A valid ONNX model that this project did not export: one Relu, no metadata."""
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 5])
    out = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 5])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "foreign", [value], [out])
    onnx.save_model(onnx.helper.make_model(graph), str(path))
    return path


BAD_FILES = {
    "corrupt": (lambda path, good: path.write_bytes(b"\x08\x07garbage\xff\xfe" * 100), "is not an ONNX model"),
    "truncated": (lambda path, good: path.write_bytes(good.read_bytes()[:5000]), "is not an ONNX model"),
    "empty": (lambda path, good: path.write_bytes(b""), "is not an ONNX model"),
    "foreign": (lambda path, good: _foreign_model(path), "was not exported by antialiased.export"),
    "missing": (lambda path, good: None, "no such file"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_corrupt_or_foreign_file_given_to_the_parity_check_is_a_clear_error(
    tiny: tuple[nn.Module, Path], tmp_path: Path, kind: str
) -> None:
    make, words = BAD_FILES[kind]
    path = tmp_path / "model.onnx"
    make(path, tiny[1])
    with pytest.raises(OnnxFileError, match=words) as caught:
        check_parity(tiny[0], path)
    assert str(path) in str(caught.value)


def test_a_valid_model_a_runtime_cannot_load_is_an_onnx_file_error(tmp_path: Path) -> None:
    path = _foreign_model(tmp_path / "foreign.onnx")
    proto = onnx.load_model(str(path))
    proto.graph.node[0].op_type = "NoSuchOperator"
    with pytest.raises(OnnxFileError, match=r"onnxruntime \d+\.\d+\.\d+ cannot load the model"):
        open_session(proto.SerializeToString())


def test_a_dynamic_size_export_takes_other_sizes_and_refuses_too_small_ones(tmp_path: Path) -> None:
    network = tiny_network()
    path = export_onnx(tiny_source(network), tmp_path / "dynamic.onnx", dynamic_size=True)
    (image,) = onnx.load_model(str(path)).graph.input
    assert [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim] == ["batch", 3, "height", "width"]
    module = OnnxModule(path)
    for shape in [(2, 3, 48, 40), (1, 3, 17, 17)]:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            assert np.abs(module(x).numpy() - network(x).numpy()).max() < 1e-5, shape
    with pytest.raises(ValueError):
        network(torch.zeros(1, 3, 4, 4))  # PyTorch refuses it (the blur's reflect padding) ...
    with pytest.raises(ValueError, match=r"onnxruntime refuses an input of shape \[1, 3, 4, 4\]"):
        module(torch.zeros(1, 3, 4, 4))  # ... and so does the runtime, rather than answering
