"""Export a model to a file another runtime serves without its source code:

    python -m antialiased.export --model SPEC [--weights W] --format pt2 --out DIR --name NAME

`--model` takes what fine-tuning takes (`antialiased.networks`). Modules, one concern each: `source` (what is
exported: `ExportSource`, resolved from the spec), `formats` (the table of formats, `FORMATS`), `pt2` (a
`torch.export` program with its label set, registered by name for TorchServe), `cli`.
"""

from antialiased.export.formats import FORMATS, Writer
from antialiased.export.source import ExportError, ExportSource, resolve_source

__all__ = ["FORMATS", "ExportError", "ExportSource", "Writer", "resolve_source"]
