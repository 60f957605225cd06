"""Offsets of each image: per-image mode keyed by (seed, image, pass), and the paper's per-batch draws; the view of
each frame of a sequence: a 224 x 224 frame as ImageNet-P's test.py feeds it, bit for bit."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

from antialiased.evaluate.plans import (
    CENTER_OFFSET,
    EvaluationProtocol,
    all_plans,
    frame_request,
    image_plan,
    paper_offset_pairs,
)
from antialiased.preprocessing import CROP_SIZE, IMAGENET_MEAN, IMAGENET_STD
from antialiased.shifts import ShiftRequest
from antialiased.transforms import preprocess, resize_center_crop, shifted_views

ALL = ("consistency", "diagonal", "circular")


def test_per_image_offsets_do_not_depend_on_batching_or_the_number_of_images() -> None:
    a = all_plans(EvaluationProtocol(measures=ALL, batch_size=3), 50)
    b = all_plans(EvaluationProtocol(measures=ALL, batch_size=32), 120)
    assert a == b[:50]
    assert image_plan(EvaluationProtocol(measures=ALL), 7) == a[7]
    assert a[0].shift_offsets() != a[1].shift_offsets(), "images get their own offsets"
    assert all_plans(EvaluationProtocol(measures=ALL, seed=1), 50) != a


def test_more_passes_keep_the_earlier_ones() -> None:
    five = image_plan(EvaluationProtocol(measures=ALL, epochs_shift=5), 3)
    eight = image_plan(EvaluationProtocol(measures=ALL, epochs_shift=8), 3)
    assert eight.shift_offsets()[:5] == five.shift_offsets()


def test_views_cover_the_papers_ranges() -> None:
    plans = all_plans(EvaluationProtocol(measures=ALL, epochs_shift=5), 200)
    for plan in plans:
        assert plan.crop_offsets[plan.center] == CENTER_OFFSET == (16, 16)
        assert [plan.crop_offsets[i] for i in plan.diagonal] == [(d, d) for d in range(33)]
        for a, b in plan.shift_pairs:
            assert all(0 <= v <= 31 for v in (*plan.crop_offsets[a], *plan.crop_offsets[b]))
        circular = [plan.circular_offsets[i - len(plan.crop_offsets)] for pair in plan.circular_pairs for i in pair]
        assert all(-32 <= v <= 32 for offset in circular for v in offset)
        assert [r.mode for r in plan.requests()] == ["crop", "circular"]
    drawn = np.array([o for plan in plans for o in plan.shift_offsets()])
    assert drawn.min() == 0 and drawn.max() == 31, "uniform over {0..31}, like np.random.randint(32)"


def test_paper_offsets_are_the_scripts_draws() -> None:
    """For each pass, for each batch: off0 = np.random.randint(32, size=2), then off1; the batch shares them."""
    images, batch, passes, seed = 21, 8, 3, 5
    np.random.seed(seed)
    expected: list[list[list[int]]] = [[] for _ in range(images)]
    for _ in range(passes):
        for start in range(0, images, batch):
            off0 = np.random.randint(32, size=2)
            off1 = np.random.randint(32, size=2)
            for i in range(start, min(start + batch, images)):
                expected[i].append([int(off0[0]), int(off0[1]), int(off1[0]), int(off1[1])])
    protocol = EvaluationProtocol(mode="paper", seed=seed, batch_size=batch, epochs_shift=passes)
    assert [p.shift_offsets() for p in all_plans(protocol, images)] == expected
    pairs = paper_offset_pairs(protocol, images)
    assert pairs[0] == pairs[7] != pairs[8], "one pair per batch of 8"


def test_a_frame_of_the_input_size_goes_in_as_test_py_feeds_it_bit_for_bit() -> None:
    """ImageNet-P's test.py: ToTensor and Normalize, no resize. The frame's view is its shorter side resized to its
    own size, the identity in Pillow (the CPU, our handler) and in torchvision's tensor resize (a GPU), then all of
    it cropped; any other frame gets the plain view of /v1/sequence (resized to 256, the 224 center crop)."""
    frame = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, CROP_SIZE, CROP_SIZE), dtype=np.uint8))
    assert torch.equal(resize_center_crop(frame, CROP_SIZE, CROP_SIZE), frame)
    assert torch.equal(TF.resize(frame, [CROP_SIZE], antialias=True), frame)
    test_py = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    (view,) = shifted_views(frame, frame_request(CROP_SIZE, CROP_SIZE))
    assert torch.equal(view, test_py(Image.fromarray(frame.permute(1, 2, 0).numpy())))
    for height, width in ((CROP_SIZE, CROP_SIZE + 1), (200, 300), (256, 256)):
        other = frame.repeat(1, 2, 2)[:, :height, :width]
        assert frame_request(height, width) == ShiftRequest((CENTER_OFFSET,))
        assert torch.equal(shifted_views(other, frame_request(height, width))[0], preprocess(other))
