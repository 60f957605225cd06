"""`antialias` never returns a model that fails where the original ran: the rewritten graph is run at `input_shape`
(on the meta device) and must give the original's output shapes; otherwise an AntialiasError names the first
layer whose output size changed and the option that keeps it. The issue's cases: a pool without padding at 224
before a Linear, a ceil-mode max pool at 7x7 before a Linear, an unbatched `input_shape`."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from antialiased import AntialiasError, antialias


def _pool_before_linear(pool: nn.Module, side: int) -> nn.Sequential:
    """Conv2d, `pool`, Flatten and a Linear sized for the pool's output at `side` x `side`."""
    convolved = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), pool)
    with torch.no_grad():
        features = convolved(torch.zeros(1, 3, side, side)).numel()
    return nn.Sequential(*convolved, nn.Flatten(), nn.Linear(features, 10))


def _runs(model: nn.Module, side: int) -> torch.Size:
    with torch.no_grad():
        return model.eval()(torch.randn(2, 3, side, side)).shape


@pytest.mark.parametrize(
    ("pool", "side", "sizes"),
    [
        (nn.AvgPool2d(3, 2), 224, "111x111 would become 112x112"),
        (nn.MaxPool2d(2, 2, ceil_mode=True), 7, "4x4 would become 3x3"),
    ],
    ids=["avg-pool-3-2-at-224", "ceil-mode-max-pool-at-7"],
)
def test_a_rewrite_that_changes_an_output_size_is_refused_naming_the_layer_and_the_option(
    pool: nn.Module, side: int, sizes: str
) -> None:
    model = _pool_before_linear(pool, side)
    assert _runs(model, side) == (2, 10)
    with pytest.raises(AntialiasError) as caught:
        antialias(model, input_shape=(1, 3, side, side))
    assert caught.value.layer == "1"
    message = str(caught.value)
    assert message.startswith("cannot antialias '1': its output of ") and sizes in message, message
    assert f"input_shape (1, 3, {side}, {side})" in message and "skip=1 leaves it as it is" in message
    kept = antialias(model, skip=1, input_shape=(1, 3, side, side))
    assert kept.report.rewritten == () and _runs(kept.model, side) == (2, 10), "the option named keeps it"


def test_a_changed_size_that_the_output_does_not_see_is_rewritten() -> None:
    """An adaptive pool after the pool: the 112x112 map instead of 111x111 still gives the same output shape."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AvgPool2d(3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 10))  # fmt: skip
    rewritten = antialias(model, input_shape=(1, 3, 224, 224))
    assert [item.layer for item in rewritten.report.rewritten] == ["1"]
    assert _runs(rewritten.model, 224) == (2, 10)


@pytest.mark.parametrize("shape", [(3, 224, 224), (224, 224), (1, 1, 3, 224, 224)])
def test_an_input_shape_that_is_not_batched_images_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(AntialiasError, match=r"input_shape must be \(batch, channels, height, width\)") as caught:
        antialias(resnet18(), input_shape=shape)
    assert str(shape) in str(caught.value)


def test_resnet18_still_rewrites_at_odd_sizes_with_its_output_shape() -> None:
    """Odd sizes change no output: every blur subsamples to ceil(size / stride), as ResNet's padded layers do."""
    for side in (97, 224, 225):
        model = antialias(resnet18(), input_shape=(1, 3, side, side)).model
        assert _runs(model, side) == (2, 1000)
