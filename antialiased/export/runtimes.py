"""The runtimes an exported ONNX file runs on here (ONNX Runtime and OpenVINO, on the CPU), behind one call, and an
ONNX file as a PyTorch module, so that `antialiased.probe` runs its shift protocols on it as on the eager model.

OpenVINO is asked for float32: on CPUs with bfloat16 instructions (AVX512-BF16, AMX) its CPU plugin computes in
bfloat16 by default, which moved the antialiased ResNet50's probabilities by 4.5e-3 here (logits by 0.10; the
parity check named its first convolution): 45 times the 1e-4 bound. ONNX Runtime's CPU provider computes float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import nn

from antialiased.export.onnx import OnnxFileError, read_facts

RUNTIMES = ("onnxruntime", "openvino")
OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}

# (N, 3, H, W) float32 -> every output of the model, in the order of the model's outputs.
Session = Callable[[np.ndarray], list[np.ndarray]]


def runtime_version(runtime: str) -> str:
    """The runtime and its installed version, e.g. 'onnxruntime 1.32.0', as parity tables name it."""
    return f"{runtime} {version(_check_runtime(runtime))}"


def open_session(
    model: Path | bytes, runtime: str = "onnxruntime", providers: Sequence | None = None, threads: int | None = None
) -> Session:
    """A session of the ONNX model (a file, or a serialised model) on `runtime`; `providers`: ONNX Runtime's
    execution providers in order of preference (default: its CPU provider); `threads`: the CPU threads of one
    inference (default: the runtime's, one per core). `OnnxFileError` when the runtime cannot load the model."""
    _check_runtime(runtime)
    source = str(model) if isinstance(model, Path) else model
    try:
        if runtime == "onnxruntime":
            return _onnxruntime(source, providers, threads)
        return _openvino(source, threads)
    except Exception as error:  # each runtime has its own exception types for a model it cannot load
        where = model if isinstance(model, Path) else "the model"
        raise OnnxFileError(f"{runtime_version(runtime)} cannot load {where}: {error}") from None


def _check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
    return runtime


def _onnxruntime(source: str | bytes, providers: Sequence | None, threads: int | None) -> Session:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # its errors are raised to the caller, not also logged
    if threads is not None:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(source, options, providers=list(providers or ["CPUExecutionProvider"]))
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def _openvino(source: str | bytes, threads: int | None) -> Session:
    import openvino

    core = openvino.Core()
    model = core.read_model(source) if isinstance(source, str) else core.read_model(source, b"")
    config = OPENVINO_CONFIG | ({} if threads is None else {"INFERENCE_NUM_THREADS": threads})
    compiled = core.compile_model(model, "CPU", config)
    return lambda x: [np.asarray(value) for value in compiled(x).values()]


class OnnxModule(nn.Module):
    """An exported ONNX file as a module: normalised (N, 3, S, S) images -> (N, classes) logits, on the CPU, through
    `runtime`. For the library's probes and evaluations; it has no parameters and computes no gradients."""

    def __init__(self, path: Path, runtime: str = "onnxruntime") -> None:
        super().__init__()
        self.facts = read_facts(path)
        self.runtime = runtime
        self._session = open_session(Path(path), runtime)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of `x`; ValueError for an input the file does not take (another size, or too small for the
        network's reflect padding: the runtime refuses it, as PyTorch does)."""
        inputs = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        try:
            return torch.from_numpy(self._session(inputs)[0])
        except Exception as error:  # each runtime has its own exception types
            first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
            raise ValueError(f"{self.runtime} refuses an input of shape {list(inputs.shape)}: {first}") from None

    def extra_repr(self) -> str:
        return f"{self.facts.name!r}, runtime={self.runtime!r}, classes={len(self.facts.label_set)}"
