"""The `onnx` and `triton` formats of `python -m antialiased.export`: an antialiased network of the tests' own module
becomes an ONNX file, and a Triton model repository whose config.pbtxt parses as Triton's `ModelConfig` (the protobuf
that tritonclient ships), with its label file, dynamic batching, the onnxruntime backend and a commented TensorRT
block that parses too once uncommented; a file that does not compute what the network computes is not kept."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import tritonclient
from google.protobuf import text_format
from torch import nn

from antialiased.export import ExportError, ExportSource, writers
from antialiased.export.cli import main as export_main
from antialiased.export.onnx import OnnxFacts, read_facts
from antialiased.export.parity import check_parity
from antialiased.export.triton import MAX_BATCH_SIZE, MAX_QUEUE_DELAY_US, model_config, write_model_config
from antialiased.label_sets import LabelSet
from antialiased.weights import load_weights, save_checkpoint
from tests.support.models.small_cnn import antialiased_small_cnn
from tests.support.programs import COLOURS, SMALL_BUILDER, small_checkpoint, write_classes

pytestmark = pytest.mark.slow


def _model_config_pb2() -> ModuleType:
    """tritonclient's model_config_pb2, loaded from its file: `tritonclient.grpc`'s package needs grpcio, which the
    HTTP client installed here does not have, but the protobuf module itself needs only protobuf."""
    path = Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODEL_CONFIG = _model_config_pb2()


def _parse(text: str):
    return text_format.Parse(text, MODEL_CONFIG.ModelConfig())


def _export(folder: Path, fmt: str, capsys: pytest.CaptureFixture) -> tuple[list[str], nn.Module]:
    """The small network exported by the CLI in `fmt` into folder/out: the paths it printed, and the network."""
    checkpoint = small_checkpoint(folder)
    classes = write_classes(folder / "classes.json")
    args = ["--model", f"{checkpoint}:{SMALL_BUILDER}", "--classes", str(classes), "--format", fmt,
            "--out", str(folder / "out"), "--name", "small"]  # fmt: skip
    assert export_main(args) == 0
    printed = [line.removeprefix("wrote ") for line in capsys.readouterr().out.splitlines() if line.startswith("wrote")]
    return printed, load_weights(antialiased_small_cnn(), checkpoint).eval()


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module, list[str]]:
    folder = tmp_path_factory.mktemp("triton")
    checkpoint = small_checkpoint(folder)
    classes = write_classes(folder / "classes.json")
    out = folder / "repository"
    args = ["--model", f"{checkpoint}:{SMALL_BUILDER}", "--classes", str(classes), "--format", "triton",
            "--out", str(out), "--name", "small"]  # fmt: skip
    assert export_main(args) == 0
    return (
        out,
        load_weights(antialiased_small_cnn(), checkpoint).eval(),
        sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
    )


def test_the_triton_format_writes_a_model_repository(repository: tuple[Path, nn.Module, list[str]]) -> None:
    assert repository[2] == ["small/1/model.onnx", "small/config.pbtxt", "small/labels.txt"]


def test_config_pbtxt_parses_as_tritons_model_config(repository: tuple[Path, nn.Module, list[str]]) -> None:
    config = _parse((repository[0] / "small" / "config.pbtxt").read_text())
    assert (config.name, config.backend, config.max_batch_size) == ("small", "onnxruntime", MAX_BATCH_SIZE)
    (image,), (logits,) = config.input, config.output
    assert (image.name, MODEL_CONFIG.DataType.Name(image.data_type), list(image.dims)) == ("input", "TYPE_FP32",
                                                                                          [3, 224, 224])  # fmt: skip
    assert (logits.name, list(logits.dims), logits.label_filename) == ("logits", [3], "labels.txt")
    assert config.HasField("dynamic_batching")
    assert config.dynamic_batching.max_queue_delay_microseconds == MAX_QUEUE_DELAY_US
    assert not config.HasField("optimization"), "TensorRT is commented out: it needs a GPU"


def test_the_commented_tensorrt_block_parses_once_uncommented(repository: tuple[Path, nn.Module, list[str]]) -> None:
    text = (repository[0] / "small" / "config.pbtxt").read_text()
    block = re.search(r"(?ms)^# optimization \{\n.*?^# \}\n", text)
    assert block is not None
    config = _parse(text.replace(block.group(0), re.sub(r"(?m)^# ", "", block.group(0))))
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    assert accelerator.parameters["precision_mode"] == "FP16"
    assert accelerator.parameters["trt_profile_max_shapes"] == f"input:{MAX_BATCH_SIZE}x3x224x224"


def test_the_label_file_lists_the_classes_in_index_order(repository: tuple[Path, nn.Module, list[str]]) -> None:
    assert (repository[0] / "small" / "labels.txt").read_text().splitlines() == list(COLOURS)


def test_the_repositorys_model_computes_what_the_network_computes(
    repository: tuple[Path, nn.Module, list[str]],
) -> None:
    path = repository[0] / "small" / "1" / "model.onnx"
    facts = read_facts(path)
    assert (facts.name, facts.label_set.names) == ("small", COLOURS)
    row = check_parity(repository[1], path, "onnxruntime", inputs=torch.randn(6, 3, 224, 224))
    assert row.passed and row.same_top1 == 6, row.describe()


def test_the_onnx_format_writes_one_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    printed, network = _export(tmp_path, "onnx", capsys)
    assert printed == [str(tmp_path / "out" / "small.onnx")]
    assert check_parity(network, Path(printed[0]), "openvino").passed


class ExportedOtherwise(nn.Module):
    """Reverses the class order while torch.export traces it, as a network with an export-only code path may."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(1) if torch.compiler.is_exporting() else x


def network_exported_otherwise() -> nn.Module:
    return nn.Sequential(antialiased_small_cnn(), ExportedOtherwise())


@pytest.mark.parametrize("fmt", ["onnx", "triton"])
def test_a_file_that_does_not_compute_what_the_network_computes_is_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture, fmt: str
) -> None:
    checkpoint = save_checkpoint(network_exported_otherwise(), tmp_path, "otherwise")
    classes = write_classes(tmp_path / "classes.json")
    spec = f"{checkpoint}:tests.antialiased.export.test_formats:network_exported_otherwise"
    args = ["--model", spec, "--format", fmt, "--classes", str(classes), "--out", str(tmp_path / "out"),
            "--name", "otherwise"]  # fmt: skip
    assert export_main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: not written: otherwise on onnxruntime ") and error.count("\n") == 1, error
    assert "first diverging layer: '1'" in error, "ExportedOtherwise, the second layer of the Sequential"
    assert not list((tmp_path / "out").rglob("*.onnx"))


def test_model_config_refuses_a_name_that_is_no_folder_name() -> None:
    with pytest.raises(ValueError, match=r"invalid model name '\.\./up'"):
        model_config(OnnxFacts("../up", LabelSet.of_names(COLOURS)))


def test_write_model_config_refuses_a_file_outside_the_repository_layout(
    repository: tuple[Path, nn.Module, list[str]], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "small.onnx"
    elsewhere.write_bytes((repository[0] / "small" / "1" / "model.onnx").read_bytes())
    with pytest.raises(ValueError, match=r"is not laid out as <repository>/small/1/model.onnx"):
        write_model_config(elsewhere)
    with pytest.raises(ValueError, match=r"max_batch_size must be in \[1, 4096\], got 0"):
        write_model_config(repository[0] / "small" / "1" / "model.onnx", max_batch_size=0)


def test_a_format_whose_packages_are_missing_says_which_and_where(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writers, "PACKAGES", ("onnx", "no_such_package_here"))
    classes = write_classes(tmp_path / "classes.json")
    args = ["--model", f"{small_checkpoint(tmp_path)}:{SMALL_BUILDER}", "--classes", str(classes), "--format", "onnx",
            "--out", str(tmp_path / "out"), "--name", "small"]  # fmt: skip
    assert export_main(args) == 2
    assert capsys.readouterr().err == (
        "error: exporting to ONNX and running it on onnxruntime needs no_such_package_here, which this Python "
        "lacks: pip install -r requirements-export.txt\n"
    )


def test_the_handlers_runtime_names_its_own_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """proven_module (the handler's runtime option) with OpenVINO absent says so before exporting anything (it was
    a bare ModuleNotFoundError once the file was written: openvino was not among the packages checked)."""
    monkeypatch.setitem(sys.modules, "openvino", None)  # as Python sees it, not installed
    source = ExportSource("small", antialiased_small_cnn(num_classes=3).eval(), LabelSet.of_names(COLOURS), "small_cnn")
    with pytest.raises(ExportError, match=r"^exporting to ONNX and running it on openvino needs openvino, which"):
        writers.proven_module(source, "openvino")
