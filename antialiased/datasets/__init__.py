"""Data sets of images on disk, for the evaluation and fine-tuning alike: `folders` (which images, which labels:
an ImageFolder, ImageNet's validation layout), `sequences` (which sequences: folders of frames, of videos, or
ImageNet-P's layout), `files` (a data tree walked and read safely: no link cycle, only regular files, reads within
the image limit), `reading` (an image file decoded by the library, or why it cannot be) and `translate` (ImageNet-P's
translate sequences made from an image folder: `python -m antialiased.sequences make`)."""

from antialiased.datasets.files import read_image_file
from antialiased.datasets.folders import (
    NO_LABEL,
    SYNSET_PATTERN,
    DataError,
    Dataset,
    Sample,
    class_folders,
    discover,
    load_label_map,
)
from antialiased.datasets.reading import read_image, unreadable
from antialiased.datasets.sequences import LAYOUTS, SEQUENCE_LIMITS, discover_sequences

__all__ = [
    "LAYOUTS",
    "NO_LABEL",
    "SEQUENCE_LIMITS",
    "SYNSET_PATTERN",
    "DataError",
    "Dataset",
    "Sample",
    "class_folders",
    "discover",
    "discover_sequences",
    "load_label_map",
    "read_image",
    "read_image_file",
    "unreadable",
]
