"""ImageNet-P's translate sequences made from any image folder, as its creation script makes them
(hendrycks/robustness, `ImageNet-P/create_p/make_imagenet_p.py`, "Translate"): each image resized (shorter side 256),
then for i = 0..40 shifted horizontally by i - 20 pixels (torchvision's `affine`, nearest, black where nothing is)
and center-cropped to 224; the 41 frames written as H.264 at crf 20, preset veryslow, one frame per second, in
4:4:4 (what FFmpeg picks for the script's RGB frames), through PyAV.

Layout, ImageNet-P's: `OUT/translate/<class folder>/<image name>.mp4` for `DATA/<class folder>/<image>`, so that
`python -m antialiased.evaluate --sequences OUT` reads it as it reads ImageNet-P. Each image is decoded as the
library decodes images (strictly, EXIF orientation applied, within the image limits); one that cannot be read is
skipped and reported. A video already there is kept (a second run resumes); each is written to a temporary file
and renamed, so a video that is there is complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torchvision.transforms.v2.functional as F
from PIL import Image

from antialiased.datasets.files import TreeWalk, read_image_file
from antialiased.datasets.folders import is_image
from antialiased.errors import ApiError
from antialiased.imagefile import decode_rgb
from antialiased.preprocessing import CROP_SIZE, RESIZE_SIZE

PERTURBATION = "translate"


@dataclass(frozen=True)
class TranslateOptions:
    """How the sequences are made: ImageNet-P's values by default."""

    max_shift: int = 20  # frames shifted -max_shift..+max_shift pixels: 41 frames
    resize: int = RESIZE_SIZE
    crop: int = CROP_SIZE
    crf: int = 20
    preset: str = "veryslow"
    pix_fmt: str = "yuv444p"

    @property
    def shifts(self) -> range:
        return range(-self.max_shift, self.max_shift + 1)


@dataclass
class MakeReport:
    written: int = 0
    kept: int = 0
    unreadable: list[tuple[str, str]] | None = None


def translate_frames(image: Image.Image, options: TranslateOptions) -> list[np.ndarray]:
    """The frames of one image's translate sequence, (crop, crop, 3) uint8 each (see the module docstring)."""
    resized = F.resize(image, [options.resize])  # PIL's bilinear, antialiased: the script's trn.Resize(256)
    return [
        np.asarray(F.center_crop(F.affine(resized, angle=0.0, translate=[dx, 0], scale=1.0, shear=[0.0]), options.crop))
        for dx in options.shifts
    ]


def write_video(frames: list[np.ndarray], path: Path, options: TranslateOptions) -> None:
    """`frames` as an H.264 MP4 at one frame per second, written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mp4")
    os.close(fd)
    try:
        with av.open(temporary, "w", format="mp4") as output:
            stream = output.add_stream("libx264", rate=1, options={"crf": str(options.crf), "preset": options.preset})
            stream.height, stream.width = frames[0].shape[:2]
            stream.pix_fmt = options.pix_fmt
            for pixels in frames:
                output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            output.mux(stream.encode())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def images(data: Path) -> Iterator[tuple[Path, str]]:
    """The images of the class folders of `data` (the evaluation's walk: links, FIFOs and cycles are skipped),
    with the folder of each."""
    walk = TreeWalk(data)
    for folder in sorted(entry.name for entry in os.scandir(data) if entry.is_dir()):
        for path, _ in walk.files(data / folder, is_image):
            yield path, folder


def make_translate(data: Path, out: Path, options: TranslateOptions, limit: int | None = None) -> MakeReport:
    """Write the translate sequence of every image of `data` (at most `limit`) under `out`."""
    report = MakeReport(unreadable=[])
    for number, (path, folder) in enumerate(images(data)):
        if limit is not None and number >= limit:
            break
        target = out / PERTURBATION / folder / f"{path.stem}.mp4"
        if target.exists():
            report.kept += 1
            continue
        try:
            pixels = decode_rgb(read_image_file(path))
        except (OSError, ApiError) as error:
            message = error.message if isinstance(error, ApiError) else str(error.strerror)
            report.unreadable.append((f"{folder}/{path.name}", message))
            continue
        write_video(translate_frames(Image.fromarray(pixels), options), target, options)
        report.written += 1
    return report
