"""The service's allocator setting (service.allocator), in a fresh Python process each: after a large buffer is
freed, glibc by default serves the next large buffer from an arena's heap, which keeps it when freed; with
map_large_buffers it maps it from the kernel, which takes it back on free. Counted with glibc's mallinfo2."""

from __future__ import annotations

import subprocess
import sys

import pytest

MAPPED_CHUNKS_OF_A_LARGE_BUFFER = """
import ctypes
from service.allocator import map_large_buffers

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Mallinfo2
if {fixed}:
    assert map_large_buffers()
libc.free(libc.malloc(8 << 20))  # a decoded frame freed: glibc's default raises its mmap threshold to its size
before = libc.mallinfo2().hblks
buffer = libc.malloc(4 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(buffer)
"""


def _mapped_chunks(fixed: bool) -> int:
    script = MAPPED_CHUNKS_OF_A_LARGE_BUFFER.format(fixed=fixed)
    return int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


@pytest.mark.parametrize(("fixed", "mapped"), [(False, 0), (True, 1)], ids=["glibc_default_keeps_it", "service"])
def test_a_large_buffer_after_a_freed_one_is_mapped_only_with_the_threshold_fixed(fixed: bool, mapped: int) -> None:
    assert _mapped_chunks(fixed) == mapped
