"""The fractional and worst-case protocols: plans, bad parameters, and the in-process probe against brute force."""

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from antialiased.errors import ApiError
from antialiased.images import decode_image
from antialiased.local_probe import probe
from antialiased.metrics import against_origin
from antialiased.protocols import ProbeSpec, make_plan
from antialiased.transforms import normalize, resize_center_crop
from tests.support.models.circular_invariant import CircularInvariant

PHOTO = Path(__file__).resolve().parents[2] / "service" / "static" / "samples" / "chelsea.jpg"


class PositionSensitive(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(3 * 16, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1)) * 10


def test_fractional_plan_steps_a_quarter_pixel_on_both_axes() -> None:
    plan = make_plan(ProbeSpec(protocol="fractional"))
    assert plan.offsets == ((0, 0), (0.25, 0.25), (0.5, 0.5), (0.75, 0.75), (1, 1))
    assert (plan.request.mode, plan.request.method, plan.origin, plan.pairs[0]) == (
        "circular",
        "fourier",
        (0, 0),
        (0, 1),
    )
    assert plan.to_json()["max_shift"] == 1


def test_worst_case_window_holds_every_shift_and_the_half_pixel_grid() -> None:
    plan = make_plan(ProbeSpec(protocol="worst-case"))
    assert len(plan.offsets) == 289 and plan.request.base_size == 224 + 16
    assert plan.shifts[plan.reference] == (0, 0) and set(plan.shifts) == {
        (y, x) for y in range(-8, 9) for x in range(-8, 9)
    }
    half = make_plan(ProbeSpec(protocol="worst-case", half_pixel=True, mode="circular"))
    assert len(half.offsets) == 33 * 33 and half.request.method == "fourier" and (-7.5, 8) in half.offsets


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"protocol": "worst-case", "max_shift": 33, "mode": "circular"}, "invalid_parameter"),
        ({"protocol": "worst-case", "max_shift": 32}, "too_many_shifts"),  # 65² views
        ({"protocol": "worst-case", "max_shift": 24, "max_offsets": 5000}, "crop_larger_than_image"),  # 224 + 48 > 256
        ({"protocol": "worst-case", "half_pixel": True, "max_shift": 9}, "too_many_shifts"),
        ({"protocol": "fractional", "max_shift": 300}, "too_many_shifts"),
        ({"protocol": "fractional", "max_shift": 225, "subpixel_step": 1, "max_offsets": 5000}, "invalid_parameter"),
    ],
)
def test_bad_windows_raise_a_coded_error(kwargs: dict, code: str) -> None:
    max_offsets = kwargs.pop("max_offsets", 1089)
    with pytest.raises(ApiError) as raised:
        make_plan(ProbeSpec(**kwargs), max_offsets)
    assert raised.value.code == code


@pytest.mark.parametrize("step", [0, 1.5, -0.25])
def test_a_fractional_step_outside_zero_to_one_is_refused(step: float) -> None:
    with pytest.raises(ValidationError, match="subpixel_step"):
        ProbeSpec(protocol="fractional", subpixel_step=step)


def brute_force_worst_case(model: torch.nn.Module, image: torch.Tensor, window: int) -> dict:
    """A loop over every crop window of the (224 + 2w) center crop, one view at a time."""
    base = resize_center_crop(image, 224 + 2 * window)
    with torch.inference_mode():
        centre = model(normalize(base[:, window : window + 224, window : window + 224]).unsqueeze(0)).softmax(1)[0]
        top = int(centre.argmax())
        found = {"top": top, "kept": 0, "others": 0, "min": 2.0, "worst": None}
        for dy in range(-window, window + 1):
            for dx in range(-window, window + 1):
                y, x = window + dy, window + dx
                p = model(normalize(base[:, y : y + 224, x : x + 224]).unsqueeze(0)).softmax(1)[0]
                if (dy, dx) != (0, 0):
                    found["others"] += 1
                    found["kept"] += int(p.argmax()) == top
                if float(p[top]) < found["min"]:
                    found["min"], found["worst"] = float(p[top]), (dy, dx)
    return found


def test_the_in_process_worst_case_matches_a_brute_force_loop() -> None:
    model = PositionSensitive().eval()
    result = probe(model, PHOTO, ProbeSpec(protocol="worst-case", max_shift=3))
    expected = brute_force_worst_case(model, decode_image(PHOTO.read_bytes()), 3)
    origin = result.metrics.origin
    assert origin.top_class == expected["top"]
    assert origin.kept_fraction == expected["kept"] / expected["others"]
    assert origin.flips == (expected["kept"] < expected["others"])
    assert origin.worst_shift == expected["worst"]
    assert origin.min_probability == pytest.approx(expected["min"], abs=1e-5)


def test_a_circular_invariant_model_keeps_its_class_under_sub_pixel_shifts_of_either_method() -> None:
    for method in ("fourier", "bilinear"):
        result = probe(CircularInvariant().eval(), PHOTO, ProbeSpec(protocol="fractional", method=method))
        assert result.plan.request.method == method
        assert result.metrics.origin.kept_fraction == result.score
        assert len(result.metrics.origin.curve) == 5


def test_against_origin_scores_the_views_against_the_unshifted_one() -> None:
    metrics = against_origin(
        [1, 1, 2, 1], {1: [0.9, 0.7, 0.3, 0.9], 2: [0, 0, 0.6, 0]}, [(0, 0), (0, 1), (1, 0), (1, 1)], 0
    )
    assert (metrics.top_class, metrics.kept_fraction, metrics.flips) == (1, 2 / 3, True)
    assert metrics.mean_abs_delta_p == pytest.approx((0.2 + 0.6 + 0) / 3)
    assert (metrics.min_probability, metrics.worst_shift) == (0.3, (1, 0))


def test_the_in_process_fractional_probe_matches_a_numpy_fft_reference() -> None:
    model = PositionSensitive().eval()
    result = probe(model, PHOTO, ProbeSpec(protocol="fractional", max_shift=1, subpixel_step=0.5))
    crop = resize_center_crop(decode_image(PHOTO.read_bytes()), 224).double().numpy()
    frequencies = np.fft.fftfreq(224)
    curve = []
    for t in (0, 0.5, 1):
        ramp = np.exp(-2j * np.pi * t * (frequencies[:, None] + frequencies[None, :]))
        view = np.fft.ifft2(np.fft.fft2(crop) * ramp).real
        with torch.inference_mode():
            p = model(normalize(torch.from_numpy(view).float()).unsqueeze(0)).softmax(1)[0]
        curve.append(float(p[result.metrics.origin.top_class]))
    assert result.metrics.origin.curve == pytest.approx(curve, abs=1e-5)
