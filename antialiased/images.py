"""Image bytes -> validated, upright uint8 RGB tensors (3, H, W): one image, or a whole batch on a GPU.

The rules (limits, accepted formats, colour modes, EXIF orientation, refusing corrupt data) are those of
`antialiased.imagefile`, which decodes on the CPU. On a CUDA device, `decode_images` decodes every
grayscale or colour JPEG of a batch in one batched nvJPEG call (torchvision's `decode_jpeg` on a list)
and only the other images on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torchvision.io as tvio

from antialiased.errors import ApiError, ErrorCode
from antialiased.imagefile import (
    ORIENTATION_STEPS,
    ImageInfo,
    ImageLimits,
    check_jpeg_structure,
    decode_rgb,
    error_text,
    inspect_image,
)

log = logging.getLogger(__name__)


def decode_image(data: bytes, limits: ImageLimits = ImageLimits(), info: ImageInfo | None = None) -> torch.Tensor:
    """Decode an image file on the CPU to an upright uint8 RGB tensor (3, H, W); raise ApiError (see decode_rgb,
    also for `info`)."""
    return torch.from_numpy(decode_rgb(data, limits, info)).permute(2, 0, 1)


def decode_images(
    datas: Sequence[bytes],
    limits: ImageLimits = ImageLimits(),
    device: torch.device | str = "cpu",
    infos: Sequence[ImageInfo] | None = None,
) -> list[torch.Tensor | ApiError]:
    """Decode a batch: for each input, its upright uint8 RGB tensor (3, H, W) or the ApiError that refuses it.

    On a CUDA `device`, the grayscale and colour JPEGs are decoded there together, the rest on the CPU (those
    tensors stay on the CPU, where the paper's exact resize runs). Elsewhere everything is decoded on the CPU.
    `infos`, the inputs' headers when the caller has read them already (`inspect_image`), are not read again.
    """
    on_cuda = torch.device(device).type == "cuda"
    results: list[torch.Tensor | ApiError | None] = [None] * len(datas)
    on_gpu: list[tuple[int, ImageInfo]] = []
    for index, data in enumerate(datas):
        try:
            info = infos[index] if infos is not None else None
            if on_cuda:
                info = info or inspect_image(data, limits)
                if info.is_rgb_jpeg:
                    check_jpeg_structure(data, info)
                    on_gpu.append((index, info))
                    continue
            results[index] = decode_image(data, limits, info)
        except ApiError as error:
            results[index] = error
    for index, decoded in zip([i for i, _ in on_gpu], _decode_jpegs_on_gpu(datas, on_gpu, device), strict=True):
        results[index] = decoded
    return results  # type: ignore[return-value]  # every slot is filled above


def orient_chw(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """The upright (..., H, W) image stored under EXIF `orientation` (see antialiased.imagefile.ORIENTATION_STEPS)."""
    transpose, flip_rows, flip_columns = ORIENTATION_STEPS.get(orientation, ORIENTATION_STEPS[1])
    if transpose:
        image = image.transpose(-2, -1)
    dims = [dim for dim, flip in ((-2, flip_rows), (-1, flip_columns)) if flip]
    return image.flip(dims) if dims else image


def _decode_jpegs_on_gpu(
    datas: Sequence[bytes], jobs: list[tuple[int, ImageInfo]], device: torch.device | str
) -> list[torch.Tensor | ApiError]:
    """One batched nvJPEG call for `jobs`; if it fails, each JPEG alone, so one bad file refuses only itself."""
    if not jobs:
        return []
    encoded = [torch.frombuffer(bytearray(datas[index]), dtype=torch.uint8) for index, _ in jobs]
    try:
        decoded = tvio.decode_jpeg(encoded, mode=tvio.ImageReadMode.RGB, device=device)
    except RuntimeError:
        log.info("batched GPU JPEG decoding failed; decoding the %d JPEGs one by one", len(jobs))
        decoded = [_decode_one_on_gpu(data, device) for data in encoded]
    results: list[torch.Tensor | ApiError] = []
    for (_, info), image in zip(jobs, decoded, strict=True):
        if isinstance(image, ApiError):
            results.append(image)
        elif tuple(image.shape[-2:]) != (info.height, info.width):
            results.append(ApiError(ErrorCode.INVALID_IMAGE, "the JPEG decoded to another size than its header says"))
        else:
            results.append(orient_chw(image, info.orientation))
    return results


def _decode_one_on_gpu(encoded: torch.Tensor, device: torch.device | str) -> torch.Tensor | ApiError:
    try:
        return tvio.decode_jpeg(encoded, mode=tvio.ImageReadMode.RGB, device=device)
    except RuntimeError as error:
        return ApiError(ErrorCode.INVALID_IMAGE, f"the JPEG image cannot be decoded: {error_text(error)}")
