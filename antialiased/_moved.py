"""Old module paths kept for one release: each old module becomes the module that moved, with a warning."""

from __future__ import annotations

import importlib
import sys
import warnings

# Old module path -> where it went (docs/library.md says why); every old path is a file that calls `moved`.
MOVED: dict[str, str] = {
    "antialiased.contract": "antialiased.serving.contract",
    "antialiased.handler_client": "antialiased.serving.handler_client",
    "antialiased.torchserve_keys": "antialiased.serving.torchserve_keys",
    "antialiased.worker_restarts": "antialiased.serving.worker_restarts",
    "antialiased.readiness_probe": "antialiased.serving.readiness",
    "antialiased.default_models": "antialiased.serving.default_models",
}


def moved(old: str) -> None:
    """Make module `old`, while it is being imported, the module it moved to; warn its importer once.

    The old path is then the same module object as the new one, so every name (and every patch of one) is shared;
    the DeprecationWarning is given when the old path is first imported in a process."""
    new = MOVED[old]
    message = f"{old} moved to {new}; the old path is deprecated and goes in the next release"
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
