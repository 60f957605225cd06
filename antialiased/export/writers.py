"""The `onnx` and `triton` formats of `python -m antialiased.export`: each writes the ONNX file and proves it on
ONNX Runtime before it is kept (probabilities within `parity.PROBABILITY_TOLERANCE` of the eager network's on
`parity.parity_inputs`); a file that fails is removed and the error names the first diverging layer.

- `onnx`: `OUT/NAME.onnx`;
- `triton`: the model repository `OUT/NAME/config.pbtxt`, `OUT/NAME/1/model.onnx`, `OUT/NAME/labels.txt`;
and `proven_module`, the network as a module that computes on ONNX Runtime or OpenVINO (the handler's `runtime`).

Their packages (onnx, onnxscript, onnxruntime) are requirements-export.txt's, not every installation's: the modules
that need them are imported when a format runs, so that the `pt2` format works without them.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path

from torch import nn

from antialiased.export.source import ExportError, ExportSource

logger = logging.getLogger(__name__)
PACKAGES = ("onnx", "onnxscript", "onnxruntime")


def write_onnx(source: ExportSource, out: Path) -> list[Path]:
    """`source` as the ONNX file `out/NAME.onnx`, proven on ONNX Runtime; the paths written."""
    return [_proven_onnx(source, out / f"{source.name}.onnx")]


def write_triton(source: ExportSource, out: Path) -> list[Path]:
    """`source` as model NAME of the Triton model repository `out`, its ONNX file proven on ONNX Runtime; the paths
    written."""
    check_packages()
    from antialiased.export.triton import MODEL_FILE, VERSION, check_model_name, write_model_config

    check_model_name(source.name)
    onnx_file = _proven_onnx(source, out / source.name / VERSION / MODEL_FILE)
    return [*write_model_config(onnx_file), onnx_file]


def proven_module(source: ExportSource, runtime: str) -> nn.Module:
    """`source.network` exported with a dynamic image size and proven on `runtime` (`runtimes.RUNTIMES`), as a module
    that computes on that runtime on the CPU (`runtimes.OnnxModule`); ExportError if it cannot be."""
    check_packages(runtime)
    from antialiased.export.runtimes import OnnxModule

    with tempfile.TemporaryDirectory(prefix="antialiased-onnx-") as folder:  # the runtime holds the model in memory
        return OnnxModule(_proven_onnx(source, Path(folder) / "model.onnx", runtime, dynamic_size=True), runtime)


def _proven_onnx(source: ExportSource, path: Path, runtime: str = "onnxruntime", dynamic_size: bool = False) -> Path:
    check_packages(runtime)
    from antialiased.export.onnx import export_onnx
    from antialiased.export.parity import check_parity

    export_onnx(source, path, dynamic_size=dynamic_size)
    row = check_parity(source.network, path, runtime)
    if not row.passed:
        path.unlink()
        raise ExportError(f"not written: {row.describe()}")
    logger.info("parity: %s", row.describe())
    return path


def missing_packages(runtime: str = "onnxruntime") -> list[str]:
    """The packages that exporting to ONNX and proving the file on `runtime` need and this Python lacks (those of
    requirements-export.txt, by import name)."""
    needed = dict.fromkeys((*PACKAGES, runtime))
    return [name for name in needed if importlib.util.find_spec(name) is None]


def check_packages(runtime: str = "onnxruntime") -> None:
    """ExportError naming the packages `missing_packages(runtime)` finds missing, and the file that installs them."""
    missing = missing_packages(runtime)
    if missing:
        raise ExportError(
            f"exporting to ONNX and running it on {runtime} needs {', '.join(missing)}, which this Python lacks: "
            "pip install -r requirements-export.txt"
        )
