"""Export a model to a file another runtime serves without its source code:

    python -m antialiased.export --model SPEC [--weights W] --format pt2|onnx|triton --out DIR --name NAME

`--model` takes what fine-tuning takes (`antialiased.networks`). Modules, one concern each: `source` (what is
exported: `ExportSource`, resolved from the spec), `formats` (the table of formats, `FORMATS`), `pt2` (a
`torch.export` program with its label set, registered by name for TorchServe), `cli`; for ONNX: `onnx` (the file,
with its label set and preprocessing in its metadata), `runtimes` (ONNX Runtime, OpenVINO), `parity` (the proof
against eager PyTorch, naming the first diverging layer), `triton` (the model repository's configuration) and
`writers` (the `onnx` and `triton` formats); `quiet` (the exporters' own output silenced while they run).
"""

from antialiased.export.formats import FORMATS, Writer
from antialiased.export.source import ExportError, ExportSource, resolve_source

__all__ = ["FORMATS", "ExportError", "ExportSource", "Writer", "resolve_source"]
