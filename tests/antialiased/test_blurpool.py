"""BlurPool and BlurPool1d compute exactly what the paper's package computes, and reject bad settings clearly."""

from __future__ import annotations

import antialiased_cnns
import pytest
import torch

from antialiased.blurpool import BlurPool, BlurPool1d

FILTER_SIZES = range(1, 8)
PAD_TYPES = ("reflect", "replicate", "zero")
STRIDES = (1, 2, 3)
PAD_OFFS = (0, 1, 2)
CHANNELS = 4
# Batch > 1; odd, even and mixed spatial sizes, all large enough for reflect padding of 7 taps plus pad_off 2.
SHAPES_2D = ((3, CHANNELS, 9, 9), (2, CHANNELS, 8, 10), (2, CHANNELS, 13, 6))
SHAPES_1D = ((3, CHANNELS, 9), (2, CHANNELS, 10), (2, CHANNELS, 6))
TOLERANCE = 1e-5


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


# Each of ours, the paper's package's, and the input shapes it takes.
LAYERS = {
    "2d": (BlurPool, antialiased_cnns.BlurPool, SHAPES_2D),
    "1d": (BlurPool1d, antialiased_cnns.BlurPool1D, SHAPES_1D),
}


@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("pad_type", PAD_TYPES)
@pytest.mark.parametrize("filt_size", FILTER_SIZES)
@pytest.mark.parametrize("layer", LAYERS)
def test_blurpool_equals_reference(layer: str, filt_size: int, pad_type: str, stride: int) -> None:
    ours_class, reference_class, shapes = LAYERS[layer]
    gen = torch.Generator().manual_seed(filt_size * 100 + stride)
    for pad_off in PAD_OFFS:
        ours = ours_class(CHANNELS, pad_type=pad_type, filt_size=filt_size, stride=stride, pad_off=pad_off)
        reference = reference_class(CHANNELS, pad_type=pad_type, filt_size=filt_size, stride=stride, pad_off=pad_off)
        for shape in shapes:
            x = torch.randn(*shape, generator=gen)
            expected = reference(x)
            assert _max_diff(ours(x), expected) <= TOLERANCE, (pad_off, shape)
            if x.dim() == 4:
                channels_last = x.contiguous(memory_format=torch.channels_last)
                assert _max_diff(ours(channels_last), expected) <= TOLERANCE, (pad_off, shape, "channels_last")


@pytest.mark.parametrize(("alias", "pad_type"), [("refl", "reflect"), ("repl", "replicate")])
def test_short_pad_type_names_equal_the_long_ones(alias: str, pad_type: str) -> None:
    x = torch.randn(2, CHANNELS, 9, 8)
    assert torch.equal(BlurPool(CHANNELS, pad_type=alias)(x), BlurPool(CHANNELS, pad_type=pad_type)(x))


def test_defaults_equal_the_reference_defaults() -> None:
    x = torch.randn(2, CHANNELS, 9, 8)
    assert _max_diff(BlurPool(CHANNELS)(x), antialiased_cnns.BlurPool(CHANNELS)(x)) <= TOLERANCE
    x1d = x.flatten(2)
    assert _max_diff(BlurPool1d(CHANNELS)(x1d), antialiased_cnns.BlurPool1D(CHANNELS)(x1d)) <= TOLERANCE


@pytest.mark.parametrize("filt_size", FILTER_SIZES)
def test_smallest_feature_map_for_reflect_padding_works(filt_size: int) -> None:
    side = (filt_size - 1) // 2 + (filt_size % 2 == 0) + 1  # one more than the larger pad
    x = torch.randn(2, CHANNELS, side, side)
    expected = antialiased_cnns.BlurPool(CHANNELS, filt_size=filt_size)(x)
    assert _max_diff(BlurPool(CHANNELS, filt_size=filt_size)(x), expected) <= TOLERANCE


@pytest.mark.parametrize(("layer", "key_shape"), [(BlurPool, (6, 1, 5, 5)), (BlurPool1d, (6, 1, 5))])
def test_filter_is_a_persistent_buffer_that_loads_the_reference_strictly(layer: type, key_shape: tuple) -> None:
    ours = layer(6, filt_size=5)
    reference = (antialiased_cnns.BlurPool if layer is BlurPool else antialiased_cnns.BlurPool1D)(6, filt_size=5)
    state = ours.state_dict()
    assert list(state) == ["filt"]
    assert tuple(state["filt"].shape) == key_shape
    assert torch.equal(state["filt"], reference.state_dict()["filt"])
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.load_state_dict(state, strict=True)


@pytest.mark.parametrize("layer", [BlurPool, BlurPool1d])
@pytest.mark.parametrize("filt_size", [0, 8, 2.5])
def test_unknown_filter_size_is_rejected(layer: type, filt_size: object) -> None:
    with pytest.raises(ValueError, match=rf"filt_size must be one of \[1, 2, 3, 4, 5, 6, 7\], got {filt_size}"):
        layer(CHANNELS, filt_size=filt_size)


@pytest.mark.parametrize("layer", [BlurPool, BlurPool1d])
def test_unknown_pad_type_is_rejected(layer: type) -> None:
    message = r"pad_type must be one of \['refl', 'reflect', 'repl', 'replicate', 'zero'\], got 'circular'"
    with pytest.raises(ValueError, match=message):
        layer(CHANNELS, pad_type="circular")


@pytest.mark.parametrize("layer", [BlurPool, BlurPool1d])
def test_stride_below_one_is_rejected(layer: type) -> None:
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        layer(CHANNELS, stride=0)


@pytest.mark.parametrize(
    ("layer", "shape", "spatial"),
    [(BlurPool, (2, CHANNELS, 3, 9), r"\(3, 9\)"), (BlurPool1d, (2, CHANNELS, 3), r"\(3,\)")],
)
def test_feature_map_too_small_for_reflect_padding_is_rejected(layer: type, shape: tuple, spatial: str) -> None:
    blur = layer(CHANNELS, filt_size=7)
    message = rf"feature map of spatial size {spatial} is too small for reflect padding of 3"
    with pytest.raises(ValueError, match=message):
        blur(torch.randn(*shape))


def test_zero_and_replicate_padding_accept_tiny_feature_maps() -> None:
    x = torch.randn(2, CHANNELS, 2, 2)
    for pad_type in ("zero", "replicate"):
        expected = antialiased_cnns.BlurPool(CHANNELS, pad_type=pad_type, filt_size=7)(x)
        assert _max_diff(BlurPool(CHANNELS, pad_type=pad_type, filt_size=7)(x), expected) <= TOLERANCE
