"""Test images (real photos from scikit-image, encoded in memory), in-process reference predictions, and bursts of
requests that share a TorchServe batch."""

from __future__ import annotations

import functools
import io
import json
import struct
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import torch
import ts
from PIL import Image
from skimage import data
from ts.context import Context, RequestProcessor
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

from antialiased.images import decode_image
from antialiased.pngdata import ADAM7_PASSES
from antialiased.shifts import ShiftRequest
from antialiased.transforms import preprocess, shifted_views
from antialiased.weights import sha256_file
from antialiased.weights.load import load_weights
from archives.archive import model_config
from handlers.image_classifier import BATCH_ID_HEADER, ImageClassifier
from tests.support.served_models import NETWORK_BUILDERS

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")  # real photographs of scikit-image's data set
PROBABILITY_TOLERANCE = 1e-4
BURSTS = 5  # TorchServe batches requests by arrival: a burst sent at once shares a batch nearly always, not always
Request = TypeVar("Request")


def photo(name: str = "chelsea") -> np.ndarray:
    """An RGB uint8 (H, W, 3) photo from scikit-image."""
    return getattr(data, name)()


def encode(pixels: np.ndarray | Image.Image, fmt: str = "JPEG", **options) -> bytes:
    """Encode an image (array or Pillow image) to bytes of `fmt`."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@functools.cache
def reference_network(name: str, checkpoint: Path) -> torch.nn.Module:
    """The in-process eager network of served model `name`, with the weights its archive holds."""
    return load_weights(NETWORK_BUILDERS[name](), checkpoint).eval()


@torch.inference_mode()
def reference_probabilities(model: torch.nn.Module, image_bytes: bytes, shifts: ShiftRequest | None = None):
    """In-process library prediction: decode, preprocess (or shifted views), eager model, softmax."""
    image = decode_image(image_bytes)
    batch = preprocess(image).unsqueeze(0) if shifts is None else shifted_views(image, shifts)
    return model(batch).softmax(dim=1)


def handler_context(
    name: str,
    checkpoint: Path,
    spec: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    sha256: str | None = None,
    gpu_id: int | None = None,
) -> Context:
    """TorchServe's own Context, as a worker builds it, for a handler serving `checkpoint` (network `spec`)."""
    weights = {"name": None, "sha256": sha256 or sha256_file(checkpoint), "untrained": True}
    config = model_config(spec, weights, overrides)
    manifest = {"model": {"modelName": name, "serializedFile": checkpoint.name, "modelVersion": "1.0"}}
    cache = MetricsCacheYamlImpl(config_file_path=str(Path(ts.__file__).parent / "configs" / "metrics.yaml"))
    cache.initialize_cache()
    return Context(name, str(checkpoint.parent), manifest, 8, gpu_id, ts.__version__, metrics=cache,
                   model_yaml_config=config)  # fmt: skip


def handle_batch(
    handler: ImageClassifier, context: Context, rows: list[dict], headers: list[dict] | None = None
) -> list[tuple[int, dict]]:
    """Run one batch the way TorchServe's worker does; return (status, answer) per request."""
    context.request_ids = {index: f"request-{index}" for index in range(len(rows))}
    context.request_processor = [RequestProcessor(h) for h in headers or [{} for _ in rows]]
    context.metrics.request_ids = context.request_ids
    answers = handler.handle(rows, context)
    assert len(answers) == len(rows)
    return [(context.get_response_status(i)[0], json.loads(answer)) for i, answer in enumerate(answers)]


def png_16bit(samples: np.ndarray) -> bytes:
    """A PNG of 16-bit samples: (H, W) grayscale or (H, W, 3) RGB (Pillow cannot write 16-bit RGB)."""
    height, width = samples.shape[:2]
    colour_type = 2 if samples.ndim == 3 else 0
    rows = samples.astype(">u2").reshape(height, -1).view(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    return _png(struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0), zlib.compress(raw))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height RGB pixels (a decompression bomb's header)."""
    return _png(struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0), zlib.compress(b"\0" * 1024))


def corrupt_zlib_png(pixels: np.ndarray) -> bytes:
    """A PNG with a valid header whose compressed pixel stream is broken in the middle ("broken data stream")."""
    height, width = pixels.shape[:2]
    stream = bytearray(zlib.compress(b"".join(b"\0" + row.tobytes() for row in pixels)))
    middle = len(stream) // 2
    stream[middle : middle + 64] = b"\xff" * 64
    return _png(struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0), bytes(stream))


def png_ending_early(pixels: np.ndarray, keep: float, *, interlaced: bool = False) -> bytes:
    """An 8-bit RGB PNG of `pixels` (Adam7-interlaced when asked) whose compressed data holds only the first `keep`
    of its rows' bytes, then ends cleanly: a complete zlib stream, valid chunks, a header declaring every pixel."""
    height, width = pixels.shape[:2]
    passes = ADAM7_PASSES if interlaced else ((0, 0, 1, 1),)
    parts = [pixels[top::rows, left::columns] for top, left, rows, columns in passes]
    raw = b"".join(b"\0" + row.tobytes() for part in parts if part.size for row in part)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, int(interlaced))
    return _png(header, zlib.compress(raw[: int(len(raw) * keep)]))


def jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """`jpeg` with its frame header (SOF0) rewritten to declare width x height: the data holds far fewer pixels."""
    data = bytearray(jpeg)
    frame = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)


def _png(header: bytes, data: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def with_exif_orientation(pixels: np.ndarray, orientation: int, fmt: str = "JPEG") -> bytes:
    """`pixels` encoded with an EXIF orientation tag (the stored pixels are not changed)."""
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif)


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that EXIF `orientation` displays `upright` (inverse of the tag's transform)."""
    inverse = {1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
               5: lambda a: np.transpose(a, (1, 0, 2)), 6: lambda a: np.rot90(a, 1),
               7: lambda a: np.rot90(np.transpose(a, (1, 0, 2)), 2), 8: lambda a: np.rot90(a, -1)}  # fmt: skip
    return np.ascontiguousarray(inverse[orientation](upright))


def png_with_late_exif(pixels: np.ndarray, orientation: int) -> bytes:
    """A PNG whose eXIf chunk (with `orientation`) comes after the pixel data, as the PNG spec allows."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    png = encode(pixels, "PNG")
    return png[:-12] + chunk + png[-12:]  # the last 12 bytes are the IEND chunk


def burst_until(
    send: Callable[[Request], httpx.Response],
    requests: list[Request],
    batched: Callable[[list[httpx.Response]], bool],
) -> list[httpx.Response]:
    """The answers to `send(request)` for all `requests` sent at once, in a burst that TorchServe `batched` as wanted
    (bursts are sent again, BURSTS at most: batching by arrival is probable, not certain)."""
    for _ in range(BURSTS):
        with ThreadPoolExecutor(len(requests)) as pool:
            responses = list(pool.map(send, requests))
        if batched(responses):
            return responses
    raise AssertionError(f"not batched as wanted in {BURSTS} bursts: {[batch_of(r) for r in responses]}")


def batch_of(response: httpx.Response) -> str | None:
    """The TorchServe batch that answered `response` (our handler's header)."""
    return response.headers.get(BATCH_ID_HEADER)


def shares_a_batch(responses: list[httpx.Response], index: int) -> bool:
    """Whether the request answered by `responses[index]` shared its batch with another of `responses`."""
    return any(batch_of(r) == batch_of(responses[index]) for i, r in enumerate(responses) if i != index)
