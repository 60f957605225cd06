"""Shift requests: views cut from one decoded image, and clear errors for impossible requests."""

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from antialiased.errors import ApiError
from antialiased.shifts import MAX_CROP_SIZE, MAX_OFFSETS_PER_REQUEST, ShiftRequest
from antialiased.transforms import normalize, preprocess, resize_center_crop, shifted_views


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_crop_views_are_windows_of_the_256_center_crop(image: torch.Tensor) -> None:
    request = ShiftRequest(offsets=((0, 0), (31, 5), (32, 32)))
    views = shifted_views(image, request)
    base = resize_center_crop(image, 256)
    assert views.shape == (3, 3, 224, 224)
    for view, (dy, dx) in zip(views, request.offsets, strict=True):
        assert torch.equal(view, normalize(base[:, dy : dy + 224, dx : dx + 224]))


def test_centered_crop_view_equals_plain_preprocessing(image: torch.Tensor) -> None:
    """Offset (16, 16) in the 256 crop is the paper's CenterCrop(224): both paths agree exactly."""
    views = shifted_views(image, ShiftRequest(offsets=((16, 16),)))
    assert torch.equal(views[0], preprocess(image))


def test_circular_views_are_rolls_of_the_center_crop(image: torch.Tensor) -> None:
    request = ShiftRequest(mode="circular", offsets=((0, 0), (-32, 7), (224, -224)))
    views = shifted_views(image, request)
    centered = preprocess(image)
    for view, (dy, dx) in zip(views, request.offsets, strict=True):
        assert torch.equal(view, torch.roll(centered, shifts=(dy, dx), dims=(1, 2)))
    assert torch.equal(views[2], centered), "a roll by the full size is the identity"


@pytest.mark.parametrize("size", [(300, 400), (400, 300), (257, 1000), (640, 427)])
def test_cpu_resize_is_the_papers_pil_pipeline_exactly(size: tuple[int, int]) -> None:
    """On the CPU, Resize(256) + CenterCrop is torchvision's transforms on a PIL image, as the paper's script has it."""
    pixels = np.random.default_rng(sum(size)).integers(0, 256, (*size, 3), dtype=np.uint8)
    paper = T.Compose([T.Resize(256), T.CenterCrop(224), T.PILToTensor()])(Image.fromarray(pixels))
    ours = resize_center_crop(torch.from_numpy(pixels).permute(2, 0, 1), 224)
    assert torch.equal(ours, paper)


def test_views_can_be_cut_on_another_device_than_the_image(image: torch.Tensor) -> None:
    request = ShiftRequest(offsets=((0, 0), (5, 9)))
    assert torch.equal(shifted_views(image, request, device="cpu"), shifted_views(image, request))
    assert torch.equal(preprocess(image, device="cpu"), preprocess(image))


def test_json_round_trip() -> None:
    request = ShiftRequest(mode="circular", offsets=((1, -2), (3, 4)), crop_size=128)
    assert ShiftRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"offsets": []}, "non-empty"),
        ({"offsets": [[0, 0]], "colour": 1}, "unknown shift request fields: colour"),
        ({"offsets": [[0]]}, "integer pairs"),
        ({"offsets": [[0.5, 1]]}, "integer pairs"),
        ({"offsets": "0,0"}, "integer pairs"),
        ({"offsets": [[0, 0]], "mode": "diagonal"}, "unknown shift mode 'diagonal'"),
        ({"offsets": [[0, 33]]}, r"offset \(0, 33\) is outside \[0, 32\]"),
        ({"offsets": [[-1, 0]]}, "outside"),
        ({"offsets": [[0, 0]], "crop_size": 300}, "crop_size 300 is larger than the image it is cut from"),
        ({"offsets": [[0, 0]], "crop_size": 8}, "crop_size must be an integer in"),
        ({"offsets": [[0, 0]], "crop_size": "224"}, "crop_size must be an integer"),
        ({"offsets": [[0, 0]], "base_size": 300}, "= 300 is larger than the resized image"),
        ({"offsets": [[0, 0]], "mode": "circular", "crop_size": 300}, "larger than the resized image"),
        ({"offsets": [[0, 225]], "mode": "circular"}, "outside"),
        (
            {"offsets": [[0, 0]], "mode": "circular", "crop_size": MAX_CROP_SIZE + 1, "resize_size": 1024},
            f"crop_size must be an integer in \\[32, {MAX_CROP_SIZE}\\]",
        ),
    ],
)
def test_bad_requests_name_the_problem(payload: object, message: str) -> None:
    with pytest.raises(ApiError, match=message):
        ShiftRequest.from_json(payload)


def test_too_many_shifts_is_refused() -> None:
    offsets = [[0, 0]] * 11
    with pytest.raises(ApiError, match="too many shifts: 11 > 10") as refused:
        ShiftRequest.from_json({"offsets": offsets}, max_offsets=10)
    assert refused.value.code == "too_many_shifts"
    assert (
        len(ShiftRequest.from_json({"offsets": [[0, 0]] * MAX_OFFSETS_PER_REQUEST}).offsets) == MAX_OFFSETS_PER_REQUEST
    )


def test_a_larger_crop_limit_can_be_given_and_the_view_pixels_follow() -> None:
    """The handler's max_crop_size may exceed the library's default; view pixels are views x crop area."""
    payload = {"offsets": [[0, 0], [1, 1]], "mode": "circular", "crop_size": 992, "resize_size": 1024}
    with pytest.raises(ApiError, match="crop_size"):
        ShiftRequest.from_json(payload)
    assert ShiftRequest.from_json(payload, max_crop_size=1024).view_pixels == 2 * 992**2


def test_chunks_split_the_offsets_in_order_within_the_view_pixels():
    """A shift request beyond one request's view pixels becomes consecutive requests of the same geometry."""
    request = ShiftRequest(offsets=tuple((d, d) for d in range(10)), mode="circular", crop_size=64, resize_size=64)
    chunks = request.chunks(4 * 64**2 + 1)
    assert [len(chunk.offsets) for chunk in chunks] == [4, 4, 2]
    assert [offset for chunk in chunks for offset in chunk.offsets] == list(request.offsets)
    assert all(chunk.to_json() | {"offsets": []} == request.to_json() | {"offsets": []} for chunk in chunks)
    assert request.chunks(10 * 64**2) == [request] == request.chunks(None)
    assert [len(chunk.offsets) for chunk in request.chunks(1)] == [1] * 10, "at least one view a chunk"
    assert [len(chunk.offsets) for chunk in request.chunks(4 * 64**2 + 1, max_views=3)] == [3, 3, 3, 1]
    assert request.chunks(10 * 64**2, max_views=3) == [request], "views bounded only when it is split"
