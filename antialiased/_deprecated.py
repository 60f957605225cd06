"""Old names kept for one release, each warning its user (DeprecationWarning): module paths that moved, module-level
names and keyword arguments that were renamed.

An old module path is a file of its own, `moved(__name__, "<new path>")`; tests/antialiased/test_deprecated.py finds
them all."""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
GOES = "is deprecated and goes in the next release"


def moved(old: str, new: str) -> None:
    """Make module `old`, while it is being imported, the module `new`; warn its importer.

    The old path is then the same module object as the new one, so every name (and every patch of one) is shared;
    the warning is given when the old path is first imported in a process."""
    warnings.warn(f"{old} moved to {new}; the old path {GOES}", DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)


def renamed_names(module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that answers each old name of `names` (old -> new) with the new one's value."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} is now {names[name]}; the old name {GOES}", DeprecationWarning, stacklevel=2)
        return getattr(sys.modules[module], names[name])

    return __getattr__


def renamed_keywords(**names: str) -> Callable[[F], F]:
    """Let the decorated function also take each old keyword of `names` (old=new), warning its caller."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in names.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{function.__qualname__}() got both {old!r} (deprecated) and {new!r}")
                    message = f"{function.__qualname__}({old}=...) is now {new}=...; the old keyword {GOES}"
                    warnings.warn(message, DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
