"""The C allocator's one setting that keeps the service's resident memory within its budgets: buffers of a megabyte
or more (uploads, decoded frames, PNGs of video frames) are mapped from the kernel and given back to it when freed.

glibc's default raises that threshold to the size of each such buffer freed, so that later large buffers come from
the heaps of the worker threads' arenas, which keep them when freed: with decoding spread over worker threads, the
service held freed frames in several arenas at once, past what the pixel budget allows (a burst of 1800x1800 GIF
videos, one decoding at a time, grew it by 116-191 MB; with the threshold fixed, by 62-74 MB)."""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h); setting it also turns off glibc's dynamic threshold
LARGE_BUFFER_BYTES = 1024 * 1024


def map_large_buffers() -> bool:
    """Fix the C allocator's mmap threshold at LARGE_BUFFER_BYTES for this process; False where the C library has
    no mallopt (not glibc) or refuses it, and the allocator keeps its own policy."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    except (OSError, AttributeError):
        return False
    return mallopt(M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES) == 1
