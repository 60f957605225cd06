"""Old module paths kept for one release: each old module becomes the module that moved, with a warning.

An old path is a file of its own, `moved(__name__, "<new path>")`; tests/antialiased/test_moved.py finds them all."""

from __future__ import annotations

import importlib
import sys
import warnings


def moved(old: str, new: str) -> None:
    """Make module `old`, while it is being imported, the module `new`; warn its importer.

    The old path is then the same module object as the new one, so every name (and every patch of one) is shared;
    the DeprecationWarning is given when the old path is first imported in a process."""
    message = f"{old} moved to {new}; the old path is deprecated and goes in the next release"
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
