"""Give freed memory back to the operating system after a batch that decoded large images.

Decoding a 50-megapixel image allocates hundreds of MB in many blocks; glibc keeps freed blocks in its
arenas, so without a trim a worker's resident memory stays at its high-water mark after a burst.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (e.g. musl, macOS): nothing to trim
        return None


def release_free_memory() -> bool:
    """Return the C heap's free memory to the operating system; False where the C library cannot."""
    trim = _malloc_trim()
    return bool(trim is not None and trim(0))
