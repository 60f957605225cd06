"""Parity of an exported ONNX file with the eager PyTorch model it came from, on a runtime (`runtimes.RUNTIMES`).

A row compares the softmax probabilities of both on the same inputs; it passes when they differ by at most
`PROBABILITY_TOLERANCE` anywhere. A failing row names the first layer (a leaf module), in the order PyTorch runs
them, whose output on the runtime differs from PyTorch's by more than `LAYER_TOLERANCE` of its scale: the ONNX graph
is run again with the output of every module as an extra graph output (torch.onnx records each node's module in its
metadata).
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from antialiased.export.onnx import facts_of, read_facts
from antialiased.export.runtimes import open_session, runtime_version
from antialiased.preprocessing import Preprocessing

PROBABILITY_TOLERANCE = 1e-4
LAYER_TOLERANCE = 1e-3  # of a layer's largest output: float32 rounding stays orders of magnitude below it
SCOPES_KEY = "pkg.torch.onnx.name_scopes"  # a node's enclosing module paths, then its own name


@dataclass(frozen=True)
class ParityRow:
    """One comparison: probabilities and logits of the runtime against eager PyTorch on the same inputs."""

    model: str
    runtime: str  # with its version, e.g. "onnxruntime 1.32.0"
    inputs: int
    max_probability_difference: float
    max_logit_difference: float
    same_top1: int  # inputs whose top-1 class is the same on both
    tolerance: float = PROBABILITY_TOLERANCE
    first_diverging_layer: str | None = None  # for a failing row: the layer where the outputs part
    layer_difference: float | None = None  # that layer's largest difference, relative to its scale

    @property
    def passed(self) -> bool:
        return self.max_probability_difference <= self.tolerance

    def describe(self) -> str:
        """One line: the figures and, for a failing row, the layer."""
        verdict = "ok" if self.passed else "FAILED"
        line = (
            f"{self.model} on {self.runtime}: {verdict}, probabilities differ by at most "
            f"{self.max_probability_difference:.2e} (bound {self.tolerance:g}), logits by "
            f"{self.max_logit_difference:.2e}, same top-1 on {self.same_top1}/{self.inputs} inputs"
        )
        if not self.passed:
            where = self.first_diverging_layer
            line += (
                f"; first diverging layer: {where!r} (relative difference {self.layer_difference:.2e})"
                if where is not None
                else "; no single layer diverges (the difference grows across layers)"
            )
        return line


def parity_inputs(preprocessing: Preprocessing, count: int = 4, seed: int = 0) -> torch.Tensor:
    """`count` random images of uniform pixels, normalised as `preprocessing` says: (count, 3, S, S) float32."""
    size = preprocessing.crop_size
    pixels = torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (preprocessing.mean, preprocessing.std))
    return (pixels - mean) / std


def check_parity(
    model: nn.Module,
    path: Path,
    runtime: str = "onnxruntime",
    *,
    inputs: torch.Tensor | None = None,
    tolerance: float = PROBABILITY_TOLERANCE,
) -> ParityRow:
    """Compare the ONNX file `path` on `runtime` with the eager `model` (eval mode, its own device) on `inputs`
    (default: `parity_inputs` of the file's preprocessing). `OnnxFileError` for a file that is not an ONNX model this
    project exported, ValueError for inputs the file does not take."""
    facts = read_facts(path)
    if inputs is None:
        inputs = parity_inputs(facts.preprocessing)
    session = open_session(Path(path), runtime)
    x = inputs.detach().to("cpu", torch.float32).numpy()
    try:
        actual = np.asarray(session(x)[0], np.float64)
    except Exception as error:
        raise ValueError(f"{runtime} refuses inputs of shape {list(x.shape)} for {path}: {error}") from None
    expected = _eager_outputs(model, inputs, {})[""].astype(np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"{path} answers {list(actual.shape)}, the model {list(expected.shape)}: not its export")
    probability = float(np.abs(_softmax(actual) - _softmax(expected)).max())
    row = ParityRow(
        model=facts.name or Path(path).stem,
        runtime=runtime_version(runtime),
        inputs=len(x),
        max_probability_difference=probability,
        max_logit_difference=float(np.abs(actual - expected).max()),
        same_top1=int((actual.argmax(1) == expected.argmax(1)).sum()),
        tolerance=tolerance,
    )
    if row.passed:
        return row
    layer, difference = first_diverging_layer(model, path, runtime, inputs)
    return ParityRow(**{**row.__dict__, "first_diverging_layer": layer, "layer_difference": difference})


def first_diverging_layer(
    model: nn.Module, path: Path, runtime: str, inputs: torch.Tensor
) -> tuple[str | None, float | None]:
    """The first module, in PyTorch's order, whose output on `runtime` differs from eager by more than
    LAYER_TOLERANCE of its largest value, with that relative difference; (None, None) when none does."""
    proto = onnx.load_model(str(path))
    facts_of(proto, str(path))
    values = _module_values(proto)
    # Leaves only: the exporter's optimiser moves a fused node into the scope of the later layer (a convolution with
    # its batch norm is the norm's), so the last node within a container need not compute the container's output.
    leaves = {name for name, module in model.named_modules() if name in values and not any(module.children())}
    expected = _eager_outputs(model, inputs, leaves)
    names = [name for name in expected if name in leaves]
    present = {o.name for o in proto.graph.output}
    for name in names:
        if values[name] not in present:
            proto.graph.output.append(onnx.helper.make_tensor_value_info(values[name], onnx.TensorProto.FLOAT, None))
    outputs = {o.name: i for i, o in enumerate(proto.graph.output)}
    results = open_session(proto.SerializeToString(), runtime)(inputs.detach().to("cpu", torch.float32).numpy())
    for name in names:
        actual, wanted = np.asarray(results[outputs[values[name]]], np.float64), expected[name].astype(np.float64)
        if actual.shape != wanted.shape:
            continue  # a module whose last node is not its output (a view or an in-place op): not comparable
        difference = float(np.abs(actual - wanted).max() / max(np.abs(wanted).max(), 1e-12))
        if difference > LAYER_TOLERANCE:
            return name, difference
    return None, None


def _module_values(proto: onnx.ModelProto) -> dict[str, str]:
    """Module path -> the ONNX value computed last within it (its output), from the nodes' name scopes."""
    values: dict[str, str] = {}
    for node in proto.graph.node:
        scopes = next((p.value for p in node.metadata_props if p.key == SCOPES_KEY), None)
        if scopes is None or not node.output:
            continue
        for module in ast.literal_eval(scopes)[:-1]:  # the last scope is the node's own name
            values[module] = node.output[0]
    return values


def _eager_outputs(model: nn.Module, inputs: torch.Tensor, modules: set[str]) -> dict[str, np.ndarray]:
    """The model's output ('') and the output of each module in `modules` that ran once, in the order they ran
    (a module called twice, such as a shared ReLU, has no one output to compare)."""
    calls: list[tuple[str, np.ndarray | None]] = []  # (module, its output) in the order the modules returned
    handles = [
        module.register_forward_hook(_recorder(name, calls))
        for name, module in model.named_modules()
        if name in modules
    ]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            output = model(inputs.to(device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    counts = Counter(name for name, _ in calls)
    once = {name: value for name, value in calls if counts[name] == 1 and value is not None}
    return once | {"": output.float().cpu().numpy()}


def _recorder(name: str, calls: list[tuple[str, np.ndarray | None]]) -> Callable[..., None]:
    def record(_module: nn.Module, _args: object, output: object) -> None:
        # A copy: an in-place layer that runs later may change the tensor.
        calls.append((name, output.float().cpu().numpy().copy() if isinstance(output, torch.Tensor) else None))

    return record


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)
