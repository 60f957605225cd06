"""ONNX export of a classifier: opset 18 or newer, a dynamic batch, named input and output, and the facts a server
needs in the file's metadata (the label set and the preprocessing), checked by `onnx.checker` in full.

The network is traced by `torch.export` (non-strict) and translated by `torch.onnx`. BlurPool needs no help: its
filter is a registered buffer (an initializer, a constant), its channel count is static, and its padding becomes
one ONNX `Pad` (reflect, edge) or the convolution's own pads (zero). A network the exporter cannot take is a
`LayerExportError` that names the layer (the innermost module running when `torch.export` failed, or the module
of the graph node `torch.onnx` could not translate) and the exporter's reason.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch
from torch import nn

from antialiased.export.pt2 import EXAMPLE_BATCH
from antialiased.export.quiet import quiet_onnxscript, quiet_torch
from antialiased.export.source import ExportError, ExportSource
from antialiased.label_sets import LabelSet, LabelSetError, parse_label_set
from antialiased.preprocessing import PAPER_PREPROCESSING, Preprocessing
from antialiased.weights import ProgramFormatError
from antialiased.weights.program import program_classes

OPSET = 18
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
BATCH_DIM = "batch"
SIZE_DIMS = ("height", "width")  # the image's, when the export leaves them dynamic
# Keys of the model's metadata_props.
NAME_KEY, LABELS_KEY, PREPROCESSING_KEY = "name", "labels", "preprocessing"
# Node metadata that torch.onnx writes and the export drops: source file paths of the machine that exported.
PRIVATE_NODE_METADATA = ("pkg.torch.onnx.stack_trace",)
_FAILED_NODE = re.compile(r"translating node %(\w+)")


@dataclass(frozen=True)
class OnnxFacts:
    """What an exported file says about itself: its model's name, label set, preprocessing, and the names of its
    input and output tensors."""

    name: str
    label_set: LabelSet
    preprocessing: Preprocessing = field(default=PAPER_PREPROCESSING)
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME


class LayerExportError(ExportError):
    """The exporter cannot take the network: `layer` (a module path, '' for the network itself) and its `reason`."""

    def __init__(self, layer: str, layer_type: str, reason: str) -> None:
        where = f"layer {layer!r} ({layer_type})" if layer else f"the network itself ({layer_type})"
        super().__init__(f"cannot export {where}: {reason}")
        self.layer, self.reason = layer, reason


class OnnxFileError(ValueError):
    """A file that is not an ONNX model this project exported (corrupt, truncated, or foreign)."""


def export_onnx(source: ExportSource, path: Path, opset: int = OPSET, dynamic_size: bool = False) -> Path:
    """Write `source.network` (normalised (N, 3, S, S) images -> (N, classes) logits, S the preprocessing's crop
    size) to the ONNX file `path`, with the source's name, label set and preprocessing in its metadata; return `path`.
    `dynamic_size`: height and width dynamic too (down to the least the network takes), for a server that sends
    other crop sizes; fixed by default, as Triton's configuration and TensorRT engines want them.

    The network runs in eval mode while it is traced (its mode is restored after). Raises `LayerExportError` naming
    the layer the exporter cannot take, and ExportError when the network's classes are not its label set's.
    """
    if opset < OPSET:
        raise ValueError(f"opset must be {OPSET} or newer, got {opset}")
    network, size = source.network, source.preprocessing.crop_size
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    example = torch.randn(EXAMPLE_BATCH, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    was_training = network.training
    network.eval()
    try:
        with quiet_torch(), quiet_onnxscript():  # their logs are the details of a failure the error below tells
            program = _exported_program(network, example, dynamic_size)
            proto = _onnx_model(network, program, opset)
    finally:
        network.train(was_training)
    _check_classes(program, source)
    _name_dimensions(proto)
    _annotate(proto, OnnxFacts(source.name, source.label_set, source.preprocessing))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    large = proto.ByteSize() >= onnx.checker.MAXIMUM_PROTOBUF
    onnx.save_model(proto, path, save_as_external_data=large, location=f"{path.name}.data")
    onnx.checker.check_model(str(path), full_check=True)
    return path


@contextlib.contextmanager
def _running_layers(model: nn.Module) -> Iterator[list[str]]:
    """The path of every module whose forward is running, innermost last; left as it was when an error escapes."""
    running: list[str] = []

    def enter(name: str) -> Callable[..., None]:
        return lambda *_: running.append(name)  # returns None: the hook leaves the arguments as they are

    def leave(*_: object) -> None:
        running.pop()

    handles = []
    for module_name, module in model.named_modules(remove_duplicate=False):
        handles += [module.register_forward_pre_hook(enter(module_name)), module.register_forward_hook(leave)]
    try:
        yield running
    finally:
        for handle in handles:
            handle.remove()


def _exported_program(model: nn.Module, example: torch.Tensor, dynamic_size: bool) -> torch.export.ExportedProgram:
    sizes = {2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO} if dynamic_size else {}
    dynamic = ({0: torch.export.Dim(BATCH_DIM, min=1), **sizes},)
    with _running_layers(model) as running:
        try:
            return torch.export.export(model, (example,), dynamic_shapes=dynamic, strict=False)
        except Exception as error:
            layer = running[-1] if running else ""
            raise LayerExportError(layer, _type_name(model, layer), _root_reason(error)) from error


def _onnx_model(model: nn.Module, program: torch.export.ExportedProgram, opset: int) -> onnx.ModelProto:
    try:
        onnx_program = torch.onnx.export(
            program, opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False
        )
    except Exception as error:
        layer = _failed_node_layer(program, error)
        raise LayerExportError(layer, _type_name(model, layer), _root_reason(error)) from error
    return onnx_program.model_proto


def _failed_node_layer(program: torch.export.ExportedProgram, error: BaseException) -> str:
    """The module path of the graph node that torch.onnx names in `error` ('' when it names none)."""
    match = next((m for e in _chain(error) if (m := _FAILED_NODE.search(str(e)))), None)
    node = next((n for n in program.graph.nodes if match and n.name == match.group(1)), None)
    stack = node.meta.get("nn_module_stack") if node is not None else None
    return list(stack.values())[-1][0] if stack else ""


def _chain(error: BaseException) -> list[BaseException]:
    chain = [error]
    while chain[-1].__cause__ is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__)
    return chain


def _root_reason(error: BaseException) -> str:
    """The first line of the innermost cause, with its type: the exporter's own reason, without its advice."""
    root = _chain(error)[-1]
    first = next((line.strip() for line in str(root).splitlines() if line.strip()), "")
    return f"{type(root).__name__}: {first}" if first else type(root).__name__


def _type_name(model: nn.Module, layer: str) -> str:
    return type(model.get_submodule(layer)).__name__


def _check_classes(program: torch.export.ExportedProgram, source: ExportSource) -> None:
    try:
        classes = program_classes(program, f"the network of {source.name}")
    except ProgramFormatError as error:
        raise ExportError(str(error)) from None
    if classes != len(source.label_set):
        raise ExportError(f"the network answers {classes} classes, its label set names {len(source.label_set)}")


def _annotate(proto: onnx.ModelProto, facts: OnnxFacts) -> None:
    """The facts into the model's metadata_props; the exporting machine's file paths out of the nodes'."""
    onnx.helper.set_model_props(
        proto,
        {
            NAME_KEY: facts.name,
            LABELS_KEY: json.dumps(facts.label_set.to_json(), ensure_ascii=False),
            PREPROCESSING_KEY: json.dumps(facts.preprocessing.to_json()),
        },
    )
    proto.doc_string = f"{facts.name}: {len(facts.label_set)} classes, input {INPUT_NAME} [{BATCH_DIM}, 3, H, W]"
    for graph in [proto.graph, *(f for f in proto.functions)]:
        for node in graph.node:
            kept = [p for p in node.metadata_props if p.key not in PRIVATE_NODE_METADATA]
            del node.metadata_props[:]
            node.metadata_props.extend(kept)


def _name_dimensions(proto: onnx.ModelProto) -> None:
    """The input's dynamic dimensions named BATCH_DIM (and SIZE_DIMS) wherever they appear (torch.export calls them
    by symbols, such as 's31')."""
    batch, _, height, width = proto.graph.input[0].type.tensor_type.shape.dim
    names = {d.dim_param: name for d, name in zip((batch, height, width), (BATCH_DIM, *SIZE_DIMS), strict=True)}
    names.pop("", None)
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in names:  # a dimension of a fixed size has no dim_param: setting one would erase it
                dim.dim_param = names[dim.dim_param]


def read_facts(path: Path) -> OnnxFacts:
    """The facts an exported file carries, read without its weights; `OnnxFileError` for a file that is not an ONNX
    model (corrupt, truncated) or not one this project exported (no label set, not one image input)."""
    try:
        proto = onnx.load_model(str(path), load_external_data=False)
    except FileNotFoundError:
        raise OnnxFileError(f"{path}: no such file") from None
    except Exception as error:  # protobuf's DecodeError and friends: the bytes are not an ONNX model
        raise OnnxFileError(f"{path} is not an ONNX model ({type(error).__name__}: {error})") from None
    return facts_of(proto, str(path))


def facts_of(proto: onnx.ModelProto, where: str) -> OnnxFacts:
    """The facts in a loaded model's metadata; `OnnxFileError` naming `where` when they are missing or malformed."""
    props = {p.key: p.value for p in proto.metadata_props}
    if not proto.graph.node:
        raise OnnxFileError(f"{where} is not an ONNX model (no graph: empty, truncated or another kind of file)")
    if LABELS_KEY not in props or PREPROCESSING_KEY not in props:
        raise OnnxFileError(
            f"{where} was not exported by antialiased.export: its metadata has no {LABELS_KEY!r} and "
            f"{PREPROCESSING_KEY!r} (it has {sorted(props) or 'none'})"
        )
    try:
        label_set = parse_label_set(json.loads(props[LABELS_KEY]))
        raw = json.loads(props[PREPROCESSING_KEY])
        preprocessing = Preprocessing(**{**raw, "mean": tuple(raw["mean"]), "std": tuple(raw["std"])})
    except (ValueError, TypeError, KeyError, LabelSetError) as error:
        raise OnnxFileError(f"{where}: malformed {LABELS_KEY!r} or {PREPROCESSING_KEY!r} metadata ({error})") from None
    inputs = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if len(inputs) != 1 or len(proto.graph.output) != 1:
        raise OnnxFileError(f"{where}: expected one image input and one output, found inputs {inputs}")
    return OnnxFacts(props.get(NAME_KEY, ""), label_set, preprocessing, inputs[0], proto.graph.output[0].name)
