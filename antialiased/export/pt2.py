"""The `pt2` format: the network as a `torch.export` program (batch, height and width dynamic), its label set, and
its registry entry, so that TorchServe serves it by name without the network's source code.

Written into the output folder: `NAME-<sha256[:8]>.pt2` (the program; its extra file `antialiased.json` holds the
name, the classes and the preprocessing), `NAME-<sha256[:8]>.labels.json` (for classes other than ImageNet's) and
`registry.json` (the entry NAME added or replaced, files named relative to it). The program is checked before it
is kept: it computes what the network computes (probabilities within 1e-5) and passes the loader's own checks.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from torch.export import Dim, ExportedProgram

from antialiased.export.quiet import quiet_torch
from antialiased.export.source import ExportError, ExportSource
from antialiased.label_sets import LABELS_SUFFIX, label_set_text
from antialiased.preprocessing import CROP_SIZE
from antialiased.weights import ProgramFormatError, sha256_file
from antialiased.weights.program import PROGRAM_SUFFIX, check_program_file, program_classes
from antialiased.weights.registry import WeightsEntry
from antialiased.weights.registry_file import REGISTRY_FILE, add_entry, write_atomically

EXAMPLE_BATCH = 2  # torch.export specialises a size of 0 or 1: the example batch must be larger
METADATA_FILE = "antialiased.json"
PARITY_TOLERANCE = 1e-5  # on the probabilities, against the eager network
_DYNAMIC = ({0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO},)


def export_program(source: ExportSource) -> ExportedProgram:
    """`source.network` as a program with a dynamic batch (and image size, where the network allows it)."""
    example = torch.randn(EXAMPLE_BATCH, 3, CROP_SIZE, CROP_SIZE, generator=torch.Generator().manual_seed(0))
    try:
        with quiet_torch():  # its warnings while tracing are the failure's details, told in the error below
            program = torch.export.export(source.network, (example,), dynamic_shapes=_DYNAMIC)
    except Exception as error:  # torch.export fails in many ways (unsupported Python, data-dependent control flow)
        first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise ExportError(
            f"torch.export cannot export {source.name} ({source.arch}): {first[:300]} (see docs/export.md, "
            "'What torch.export refuses')"
        ) from None
    for node in program.graph.nodes:  # the traceback of each node names files of this machine: not shipped
        node.meta.pop("stack_trace", None)
    _check_parity(source, program, example)
    return program


@torch.inference_mode()
def _check_parity(source: ExportSource, program: ExportedProgram, example: torch.Tensor) -> None:
    expected = source.network(example).softmax(dim=1)
    got = program.module()(example).softmax(dim=1)
    difference = (got - expected).abs().max().item()
    if not difference <= PARITY_TOLERANCE:
        raise ExportError(
            f"the exported program of {source.name} differs from the network by {difference:.2e} in probability "
            f"(more than {PARITY_TOLERANCE}): not written"
        )


def write_pt2(source: ExportSource, out: Path) -> list[Path]:
    """Export `source` into `out` (see the module docstring); the paths written."""
    program = export_program(source)
    classes = program_classes(program, source.name)
    if classes != len(source.label_set):
        raise ExportError(f"{source.name} outputs {classes} classes, its label set names {len(source.label_set)}")
    out.mkdir(parents=True, exist_ok=True)
    metadata = {"name": source.name, "labels": source.label_set.to_json(), **source.preprocessing.to_json()}
    path = _save(program, out, source.name, json.dumps(metadata))
    try:
        check_program_file(path)
    except ProgramFormatError as error:
        path.unlink()
        raise ExportError(f"{error} (the network holds what an exported program may not: see docs/export.md)") from None
    written = [path]
    labels = None
    if not source.label_set.is_imagenet:  # ImageNet's is every model's default: not copied
        labels = path.with_name(path.name.removesuffix(PROGRAM_SUFFIX) + LABELS_SUFFIX)
        write_atomically(labels, label_set_text(source.label_set))
        written.append(labels)
    entry = WeightsEntry(
        name=source.name,
        url=path.resolve().as_uri(),
        sha256_prefix=sha256_file(path),
        arch=source.arch,
        filter_size=source.filter_size,
        num_classes=classes,
        labels=None if labels is None else str(labels),
        format="pt2",
    )
    add_entry(out / REGISTRY_FILE, entry)
    return [*written, out / REGISTRY_FILE]


def _save(program: ExportedProgram, out: Path, name: str, metadata: str) -> Path:
    """`program` saved as `out/<name>-<sha256[:8]>.pt2`, appearing whole (written beside, then renamed)."""
    with tempfile.TemporaryDirectory(dir=out, prefix=f".{name}-") as staging:
        partial = Path(staging) / f"{name}{PROGRAM_SUFFIX}"
        torch.export.save(program, partial, extra_files={METADATA_FILE: metadata})
        path = out / f"{name}-{sha256_file(partial)[:8]}{PROGRAM_SUFFIX}"
        partial.replace(path)
    return path
