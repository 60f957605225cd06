"""Small ImageFolder data sets written to disk for the evaluation tests (no ImageNet here).

- `write_photo_folder`: crops, flips and rescalings of scikit-image's real photos and synthetic patterns
  (stripes, checkerboards, gradients, noise), 64-96 px, PNG and JPEG, under real ImageNet synset folders.
- `write_colour_folder`: nearly uniform images whose dominant channel (red, green, blue) is the class of
  tests.support.eval_models.ColourClassifier; a known number of images per folder have another colour, so
  that model's accuracy is known by construction (`images_per_class` and `wrong` choose other counts).
- `write_sequence_folder`: a folder of frame sequences (one folder each), crops of a photo panned a few pixels from
  frame to frame, PNG and JPEG.
- `assert_same_rows`: two runs' per-image tables agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image
from skimage import data

from tests.support.eval_models import COLOUR_SYNSETS

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "horse", "immunohistochemistry")
PHOTO_SYNSETS = ("n02123045", "n07920052", "n04266014", "n03000684", "n01440764")  # tabby, espresso, shuttle, …


def _photo(name: str) -> np.ndarray:
    pixels = getattr(data, name)()
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    return np.stack([pixels] * 3, axis=-1) if pixels.ndim == 2 else pixels[..., :3]


def _pattern(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    kind = rng.integers(4)
    if kind == 0:  # stripes
        period = rng.integers(3, 12)
        base = ((x + y * rng.integers(0, 2)) // period % 2) * 255
    elif kind == 1:  # checkerboard
        size = rng.integers(2, 10)
        base = ((x // size + y // size) % 2) * 255
    elif kind == 2:  # gradient
        base = (x * 255 // max(width - 1, 1) + y * 128 // max(height - 1, 1)) % 256
    else:  # noise
        base = rng.integers(0, 256, (height, width))
    colour = rng.uniform(0.3, 1.0, 3)
    return (base[..., None] * colour).astype(np.uint8)


def _save(pixels: np.ndarray, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def write_image(path: Path, colour: tuple[int, int, int] = (90, 20, 200)) -> Path:
    """One plain 40 x 40 PNG (or whatever the suffix says) at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 40), colour).save(path)
    return path


def write_sequence_folder(root: Path, sequences: int = 4, frames: int = 4, step: int = 6) -> Path:
    """`sequences` folders `seq_00`, … of `frames` frames `00.png`, `01.jpg`, …: 64 x 80 crops of one photo each,
    `step` pixels apart, downscaled by 2 (so that small models change their minds now and then)."""
    for s in range(sequences):
        photo = _photo(PHOTOS[s % len(PHOTOS)])
        for k in range(frames):
            top, left = 20 + 3 * s, 20 + step * k
            pixels = np.ascontiguousarray(photo[top : top + 128 : 2, left : left + 160 : 2])
            fmt, suffix = ("JPEG", "jpg") if k % 2 else ("PNG", "png")
            _save(pixels, root / f"seq_{s:02d}" / f"{k:02d}.{suffix}", fmt)
    return root


def write_photo_folder(root: Path, images_per_class: int = 40, seed: int = 0) -> Path:
    """An ImageFolder of len(PHOTO_SYNSETS) classes, half photo crops and half synthetic patterns per class."""
    rng = np.random.default_rng(seed)
    photos = [_photo(name) for name in PHOTOS]
    for class_number, synset in enumerate(PHOTO_SYNSETS):
        for i in range(images_per_class):
            height, width = (int(v) for v in rng.integers(64, 97, 2))
            if i % 2 == 0:
                source = photos[(class_number + i // 2) % len(photos)]
                top = rng.integers(0, source.shape[0] - 2 * height)
                left = rng.integers(0, source.shape[1] - 2 * width)
                crop = source[top : top + 2 * height : 2, left : left + 2 * width : 2]
                pixels = np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)
            else:
                pixels = _pattern(rng, height, width)
            fmt, suffix = ("PNG", "png") if i % 3 else ("JPEG", "jpg")
            _save(pixels, root / synset / f"img_{i:03d}.{suffix}", fmt)
    return root


# Per colour folder: how many of its images carry the colour of the next folder instead (misclassified).
COLOUR_IMAGES_PER_CLASS = 20
COLOUR_WRONG = (2, 3, 5)


def write_colour_folder(
    root: Path,
    seed: int = 0,
    images_per_class: int = COLOUR_IMAGES_PER_CLASS,
    wrong: tuple[int, ...] = COLOUR_WRONG,
    folders: tuple[str, str, str] = COLOUR_SYNSETS,
) -> Path:
    """Nearly uniform 64-96 px images; in folder c (of `folders`), all but `wrong[c]` have dominant channel c."""
    rng = np.random.default_rng(seed)
    for channel, synset in enumerate(folders):
        for i in range(images_per_class):
            dominant = (channel + 1) % 3 if i < wrong[channel] else channel
            height, width = (int(v) for v in rng.integers(64, 97, 2))
            colour = np.full(3, 50.0)
            colour[dominant] = 210.0
            noise = rng.normal(0, 8, (height, width, 3))
            _save(np.clip(colour + noise, 0, 255).astype(np.uint8), root / synset / f"c_{i:02d}.png", "PNG")
    return root


def expected_colour_accuracy() -> float:
    """ColourClassifier's top-1 accuracy on write_colour_folder's images, in percent, by construction."""
    total = COLOUR_IMAGES_PER_CLASS * len(COLOUR_SYNSETS)
    return 100 * (total - sum(COLOUR_WRONG)) / total


FLOAT_COLUMNS = ("p_true", "diag_p_true", "diag_p_other", "seq_wobble", "seq_curve", "seq_zipf")


def assert_same_rows(
    a: pa.Table, b: pa.Table, rtol: float = 1e-5, atol: float = 1e-30, *, must_know: dict[str, np.ndarray] | None = None
) -> None:
    """Two per-image tables agree: every class, agreement, offset and error exactly; probabilities to `rtol`
    relative (a forward pass over another batch of views rounds differently in the last bits), and unknown (NaN)
    exactly where the other's are. An engine that legitimately knows less than `b` (the endpoint: a served answer
    holds only the top-k) is `a` with `must_know`, column -> where (row by row, flattened) `a` must know the
    probability: in those columns `a` knows at least that, nothing that `b` does not, and agrees where it knows."""
    assert a.column_names == b.column_names and a.num_rows == b.num_rows
    must_know = must_know or {}
    assert set(must_know) <= set(FLOAT_COLUMNS), must_know.keys()
    for column in a.column_names:
        x, y = a.column(column).to_pylist(), b.column(column).to_pylist()
        if column not in FLOAT_COLUMNS:
            assert x == y, column
            continue
        x, y = np.array(x, dtype=float).ravel(), np.array(y, dtype=float).ravel()
        known, theirs = ~np.isnan(x), ~np.isnan(y)
        if column in must_know:
            assert not (known & ~theirs).any(), f"{column}: known where the other is not"
            missing = np.flatnonzero(must_know[column] & ~known)
            assert missing.size == 0, f"{column}: unknown at {missing.tolist()}, which must be known"
        else:
            assert (known == theirs).all(), f"{column}: NaN at {np.flatnonzero(known != theirs).tolist()} in one only"
        np.testing.assert_allclose(x[known], y[known], rtol=rtol, atol=atol, err_msg=column)
