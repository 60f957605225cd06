"""Data sets of images on disk, for the evaluation and fine-tuning alike: `folders` (which images, which labels:
an ImageFolder, ImageNet's validation layout, folders of frame sequences), `files` (a data tree walked and read
safely: no link cycle, only regular files, reads within the image limit) and `reading` (an image file decoded by the
library, or why it cannot be)."""

from antialiased.datasets.files import read_image_file
from antialiased.datasets.folders import (
    NO_LABEL,
    DataError,
    Dataset,
    Sample,
    discover,
    discover_sequences,
    load_label_map,
)
from antialiased.datasets.reading import read_image, unreadable

__all__ = [
    "NO_LABEL",
    "DataError",
    "Dataset",
    "Sample",
    "discover",
    "discover_sequences",
    "load_label_map",
    "read_image",
    "read_image_file",
    "unreadable",
]
