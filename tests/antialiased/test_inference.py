"""prepare_for_inference computes what the eager model computes (float32, CPU)."""

import pytest
import torch
from torch import nn

from antialiased.inference import (
    MaxPool2x2Stride1,
    fold_batch_norm,
    prepare_for_inference,
    smallest_input_side,
    to_model_input,
)
from antialiased.models import create_baseline, create_model
from antialiased.preprocessing import CROP_SIZE
from antialiased.shifts import MIN_CROP_SIZE


def _randomise_batch_norm(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, so that folding them is actually exercised.

    The classifier is scaled so that logits fall in the range of a trained model's (|z| < ~30):
    random-init ResNets otherwise give logits in the hundreds, where float32 rounding alone exceeds 1e-4.
    """
    gen = torch.Generator().manual_seed(0)
    model.fc.weight.data.mul_(0.05)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def resnet50() -> nn.Module:
    torch.manual_seed(0)
    return _randomise_batch_norm(create_model("resnet50", filter_size=4))


@pytest.mark.parametrize("fold_bn", [True, False])
def test_prepared_resnet50_equals_eager_within_1e_4(resnet50: nn.Module, fold_bn: bool) -> None:
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    prepared = prepare_for_inference(resnet50, fold_bn=fold_bn)
    with torch.inference_mode():
        expected = resnet50(x)
        actual = prepared(to_model_input(x))
    assert actual.shape == (2, 1000)
    assert 5 < expected.abs().max().item() < 50
    assert (actual - expected).abs().max().item() <= 1e-4


def test_fold_batch_norm_removes_every_batch_norm(resnet50: nn.Module) -> None:
    folded = fold_batch_norm(resnet50)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in resnet50.modules()), "the original model is left alone"


def test_prepare_swaps_stem_max_pool_and_leaves_original_unchanged(resnet50: nn.Module) -> None:
    prepared = prepare_for_inference(resnet50)
    assert isinstance(prepared.get_submodule("maxpool.0"), MaxPool2x2Stride1)
    assert isinstance(resnet50.maxpool[0], nn.MaxPool2d)


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 5, 7, 10)])
def test_max_pool_2x2_stride_1_equals_torch(shape: tuple[int, ...]) -> None:
    x = torch.randn(*shape)
    assert torch.equal(MaxPool2x2Stride1()(x), nn.MaxPool2d(2, stride=1)(x))


def test_prepared_model_runs_on_channels_last_input(resnet50: nn.Module) -> None:
    prepared = prepare_for_inference(resnet50)
    x = to_model_input(torch.randn(1, 3, 64, 64))
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert prepared.get_submodule("conv1").weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        assert prepared(x).shape == (1, 1000)


@pytest.mark.parametrize(("build", "side"), [(lambda: create_model("resnet50", 4), 35),
                                             (lambda: create_model("resnet50", 2), MIN_CROP_SIZE),
                                             (lambda: create_baseline("resnet50"), MIN_CROP_SIZE)])  # fmt: skip
def test_the_smallest_input_side_is_the_first_the_model_takes(build, side: int) -> None:
    """A 32-pixel crop fails inside the antialiased ResNet50 (filter 4: a 2 x 2 feature map is too small for its
    reflect padding); 35 is the first side it takes, found by bisection."""
    model = prepare_for_inference(build())
    assert smallest_input_side(model, "cpu", MIN_CROP_SIZE, CROP_SIZE) == side
    with torch.inference_mode():
        model(to_model_input(torch.zeros(1, 3, side, side)))
        if side > MIN_CROP_SIZE:
            with pytest.raises(ValueError, match="too small for reflect padding"):
                model(to_model_input(torch.zeros(1, 3, side - 1, side - 1)))
