"""Whether a PNG's compressed image data holds every row its header declares (torch-free).

Pillow decodes a PNG whose zlib stream ends cleanly before the last row and leaves the missing rows black (its
check is commented out in its decoder), so the data is measured here: `check_png_data` inflates the IDAT chunks,
counting the bytes without keeping them (a window at a time), and refuses data that holds fewer bytes than the
declared rows need. `check_png_size` is the cheap bound a header check can apply: deflate compresses at most
1032:1, so a file smaller than its rows' bytes / 1032 cannot hold them (a 90-byte PNG declaring 50 megapixels).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from antialiased.errors import ApiError, ErrorCode

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEFLATE_MAX_RATIO = 1032  # the most deflate can compress: 258 bytes in 2 bits
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
# Adam7's passes: (first row, first column, row step, column step)
ADAM7_PASSES = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))
_WINDOW = 1 << 20  # inflated bytes produced (and dropped) at a time


def image_data_bytes(data: bytes) -> int | None:
    """The inflated bytes a PNG's rows take (each row's filter byte and its packed samples, every Adam7 pass when
    interlaced), from its IHDR; None when `data` does not start with a readable PNG header."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    bits = depth * _CHANNELS.get(colour, 0)
    passes = ADAM7_PASSES if interlace else ((0, 0, 1, 1),)
    total = 0
    for top, left, row_step, column_step in passes:
        rows = max(0, -(-(height - top) // row_step))
        columns = max(0, -(-(width - left) // column_step))
        if rows and columns:
            total += rows * (1 + -(-columns * bits // 8))
    return total


def check_png_size(data: bytes, width: int, height: int) -> None:
    """Refuse a PNG too small to hold its declared rows even at deflate's best ratio (ApiError invalid_image)."""
    needed = image_data_bytes(data)
    if needed is not None and len(data) < needed // DEFLATE_MAX_RATIO:
        raise ApiError(
            ErrorCode.INVALID_IMAGE,
            f"the PNG declares {width}x{height} pixels but holds only {len(data)} bytes (at least "
            f"{needed // DEFLATE_MAX_RATIO} are needed): the data is truncated",
        )


def check_png_data(data: bytes, width: int, height: int) -> None:
    """Refuse a PNG whose compressed image data ends before the rows its header declares (ApiError invalid_image).
    Costs one inflate of the data, in bounded memory."""
    needed = image_data_bytes(data)
    if needed is None:
        return  # not a PNG header Pillow would read either; its decoder refuses it
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for chunk in _idat_chunks(memoryview(data)):
            while chunk and produced < needed and not inflater.eof:
                produced += len(inflater.decompress(chunk, _WINDOW))
                chunk = inflater.unconsumed_tail
            if produced >= needed or inflater.eof:
                break
    except zlib.error as error:
        raise ApiError(ErrorCode.INVALID_IMAGE, f"the PNG's image data cannot be inflated: {error}") from None
    if produced < needed:
        raise ApiError(
            ErrorCode.INVALID_IMAGE,
            f"the PNG's image data ends after {produced} of the {needed} bytes its {width}x{height} pixels need: "
            "the data is truncated",
        )


def _idat_chunks(data: memoryview) -> Iterator[memoryview]:
    """The data of each IDAT chunk, in order, until IEND or the end of the bytes."""
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"IDAT":
            yield body
        elif kind == b"IEND":
            return
        position += 12 + length
