"""An image file of a data set, read within the image limits and decoded by the library, or why it cannot be."""

from __future__ import annotations

from pathlib import Path

import torch

from antialiased.datasets.files import read_image_file
from antialiased.errors import ApiError
from antialiased.images import decode_image


def read_image(path: Path) -> torch.Tensor:
    """The library's decode of an image file (uint8 RGB (3, H, W)); OSError or ApiError when it cannot be read."""
    return decode_image(read_image_file(path))


def unreadable(error: OSError | ApiError) -> str:
    """Why an image file could not be read or decoded, as the per-image table says it ('code: message')."""
    if isinstance(error, ApiError):
        return f"{error.code}: {error.message}"
    return f"unreadable_file: cannot read the file: {error.strerror}"
