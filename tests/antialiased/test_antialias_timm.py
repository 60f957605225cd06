"""`antialias` on timm's models (random weights; timm is a test-only dependency): the report lists the expected
layers, the output shape and the parameters stay, and the baseline's state_dict loads (only blur filters are new)."""

from __future__ import annotations

import pytest
import timm
import torch

from antialiased import antialias

INPUT = (1, 3, 96, 96)
# The strided layers each model has, in the order it runs them; the first `left` keep their stride (pool_only).
EXPECTED = {
    "resnet50d": {
        "left": ["conv1.0"],
        "rewritten": ["maxpool", *(f"layer{n}.0.{name}" for n in (2, 3, 4) for name in ("conv2", "downsample.0"))],
    },
    # No pool: pool_only leaves nothing, and the stem convolution is antialiased too.
    "efficientnet_b0": {"left": [], "rewritten": ["conv_stem", *(f"blocks.{n}.0.conv_dw" for n in (1, 2, 3, 5))]},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_timm_model_is_antialiased_keeping_its_parameters(name: str) -> None:
    torch.manual_seed(0)
    baseline = timm.create_model(name, pretrained=False).eval()
    model, report = antialias(baseline, input_shape=INPUT)
    assert [item.layer for item in report.left] == EXPECTED[name]["left"]
    assert [item.layer for item in report.rewritten] == EXPECTED[name]["rewritten"]
    x = torch.randn(*INPUT)
    with torch.inference_mode():
        assert model.eval()(x).shape == baseline(x).shape == (1, 1000)
    parameters = dict(model.named_parameters())
    assert {key: value.shape for key, value in parameters.items()} == {
        key: value.shape for key, value in baseline.named_parameters()
    }
    missing, unexpected = model.load_state_dict(baseline.state_dict(), strict=False)
    assert sorted(missing) == sorted(report.blur_filters) and unexpected == []


def test_timm_average_pool_shortcut_becomes_a_blur() -> None:
    _, report = antialias(timm.create_model("resnet50d", pretrained=False), input_shape=INPUT)
    shortcut = next(item for item in report.rewritten if item.layer == "layer2.0.downsample.0")
    assert shortcut.before.startswith("AvgPool2d(kernel_size=2, stride=2")
    assert shortcut.after.startswith("layer2.0.downsample.0: BlurPool(256, filt_size=4, stride=2")
    # The strided 3x3 convolution's blur follows timm's norm, drop-block, activation and (identity) aa layers.
    conv2 = next(item for item in report.rewritten if item.layer == "layer2.0.conv2")
    assert "→ layer2.0.bn2 → layer2.0.drop_block → layer2.0.act2 → layer2.0.aa → layer2.0.conv2_blur" in conv2.after
