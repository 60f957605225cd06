"""What `antialias` rewrites and what it leaves, on small models written here: a U-Net with skip connections and
transposed convolutions, a model without downsampling, the `skip` and `pool_only` options, the report, the
baseline's state_dict, and each refusal naming its layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18, resnet50

from antialiased import AntialiasError, antialias
from antialiased.blurpool import BlurPool

SMALL_INPUT = (1, 3, 64, 64)


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    """Two downsamplings (a max pool, a strided convolution), two transposed convolutions, skip connections."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = _conv_bn_relu(3, 8)
        self.pool = nn.MaxPool2d(2)
        self.enc2 = _conv_bn_relu(8, 16, stride=2)
        self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = _conv_bn_relu(16, 8)
        self.up2 = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        p1 = self.pool(e1)
        d1 = self.dec1(torch.cat([self.up1(self.enc2(p1)), p1], dim=1))
        return self.head(torch.cat([self.up2(d1), e1], dim=1))


class NoDownsampling(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn_relu(3, 8), nn.MaxPool2d(3, stride=1, padding=1), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).flatten(1))


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.eval()(x)


def test_unet_blurs_its_downsamplings_and_leaves_the_transposed_convolutions() -> None:
    torch.manual_seed(0)
    baseline = TinyUNet().eval()
    model, report = antialias(baseline, pool_only=False, input_shape=SMALL_INPUT)
    assert [(item.layer, item.blur) for item in report.downsamplings] == [
        ("pool", "pool_blur"),
        ("enc2.0", "enc2.0_blur"),
    ]
    assert "enc2.0: Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1)" in report.rewritten[1].after
    assert report.rewritten[1].after.endswith(
        "→ enc2.1 → enc2.2 → enc2.0_blur: " + repr(model.get_submodule("enc2.0_blur"))
    )
    for name in ("up1", "up2"):
        assert repr(model.get_submodule(name)) == repr(baseline.get_submodule(name))
        assert model.get_submodule(name).weight is not baseline.get_submodule(name).weight, "a copy"
    x = torch.randn(2, 3, 64, 64)
    assert _forward(model, x).shape == _forward(baseline, x).shape == (2, 2, 64, 64)
    assert baseline.pool.stride == 2 and baseline.enc2[0].stride == (2, 2), "the model passed in is unchanged"


def test_model_without_downsampling_is_unchanged_and_the_report_says_so() -> None:
    baseline = NoDownsampling().eval()
    model, report = antialias(baseline)
    assert report.downsamplings == () and report.blur_filters == ()
    assert str(report) == "no strided 2D downsampling: the model is unchanged"
    assert model.state_dict().keys() == baseline.state_dict().keys()
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(_forward(model, x), _forward(baseline, x))


def test_report_lists_each_strided_layer_and_the_baseline_state_dict_loads() -> None:
    baseline = resnet50().eval()
    model, report = antialias(baseline, max_pool_kernel=2, input_shape=SMALL_INPUT)
    assert [item.layer for item in report.left] == ["conv1"]
    assert [item.layer for item in report.rewritten] == [
        "maxpool",
        *(f"layer{n}.0.{name}" for n in (2, 3, 4) for name in ("conv2", "downsample.0")),
    ]
    assert report.rewritten[2].after.startswith("layer2.0.downsample.0_blur: BlurPool(256, filt_size=4, stride=2")
    assert str(report).splitlines()[0] == "7 of 8 strided layers antialiased"
    assert "conv1: Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2)" in str(report)
    missing, unexpected = model.load_state_dict(baseline.state_dict(), strict=False)
    assert sorted(missing) == sorted(report.blur_filters) and unexpected == []
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in baseline.parameters())
    assert all(isinstance(model.get_submodule(item.blur), BlurPool) for item in report.rewritten)


def test_skip_leaves_the_highest_resolutions_and_pool_only_the_stem() -> None:
    def left(**options: object) -> list[str]:
        return [item.layer for item in antialias(resnet18(), input_shape=SMALL_INPUT, **options).report.left]

    assert left() == ["conv1"]
    assert left(pool_only=False) == []
    assert left(pool_only=False, skip=2) == ["conv1", "maxpool"]
    # A resolution is skipped as a whole: both downsamplings of layer2.0 see the same 16x16 input.
    assert left(skip=3) == ["conv1", "maxpool", "layer2.0.conv1", "layer2.0.downsample.0"]


def test_even_stride_above_two_keeps_half_in_the_convolution() -> None:
    model, report = antialias(
        nn.Sequential(nn.Conv2d(3, 8, 5, stride=4, padding=2), nn.ReLU()), input_shape=SMALL_INPUT
    )
    assert model.get_submodule("0").stride == (2, 2) and model.get_submodule("0_blur").stride == 2
    assert _forward(model, torch.randn(1, 3, 64, 64)).shape == (1, 8, 16, 16)
    assert report.rewritten[0].blur == "0_blur"


def test_rewritten_model_keeps_the_device_dtype_and_training_mode() -> None:
    baseline = TinyUNet().double().train()
    model, report = antialias(baseline, pool_only=False, input_shape=SMALL_INPUT)
    assert model.training
    assert {model.get_submodule(item.blur).filt.dtype for item in report.rewritten} == {torch.float64}
    model(torch.randn(2, 3, 32, 32, dtype=torch.float64)).sum().backward()


class _Dilated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=2, dilation=2, stride=2), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


class _Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2)
        self.gate = _DataDependent()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.stem(x))


class _Functional(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(torch.relu(x), 2)


class _Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 3, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.down(x))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_Dilated(), r"cannot antialias 'body\.0': dilated strided convolution \(dilation \(2, 2\)\)"),
        (
            _Untraceable(),
            r"cannot antialias 'gate': torch\.fx cannot trace _DataDependent\.forward: symbolically traced",
        ),
        (
            _Functional(),
            r"cannot antialias 'max_pool2d': functional downsampling \(torch\.nn\.functional\.max_pool2d, ",
        ),
        (_Shared(), r"cannot antialias 'down': a strided layer called 2 times"),
        (nn.Sequential(nn.Conv2d(3, 8, 3, stride=(2, 1))), r"cannot antialias '0': stride \(2, 1\) differs"),
        (nn.Sequential(nn.MaxPool2d(2, return_indices=True)), r"cannot antialias '0': a max pool returning indices"),
        (nn.Sequential(nn.LPPool2d(2, 2)), r"cannot antialias '0': LPPool2d is not rewritten"),
    ],
    ids=["dilated", "untraceable", "functional", "shared", "non-square", "indices", "lp-pool"],
)
def test_models_it_cannot_rewrite_are_refused_naming_the_layer(model: nn.Module, message: str) -> None:
    with pytest.raises(AntialiasError, match=message):
        antialias(model, pool_only=False, input_shape=SMALL_INPUT)


def test_an_input_shape_the_model_cannot_take_is_refused_naming_the_layer() -> None:
    with pytest.raises(AntialiasError, match=r"cannot antialias 'conv1': an input of shape \(1, 1, 64, 64\) fails"):
        antialias(resnet18(), input_shape=(1, 1, 64, 64))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filter_size": 8}, r"filt_size must be one of \[1, 2, 3, 4, 5, 6, 7\], got 8"),
        ({"pad_type": "circular"}, r"pad_type must be one of"),
        ({"skip": -1}, r"skip must be >= 0, got -1"),
    ],
)
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        antialias(NoDownsampling(), **options)


def test_antialias_error_is_a_value_error_with_the_layer() -> None:
    with pytest.raises(ValueError) as caught:
        antialias(_Dilated())
    assert isinstance(caught.value, AntialiasError) and caught.value.layer == "body.0"


def test_an_untraceable_model_forward_is_named_by_its_class() -> None:
    with pytest.raises(
        AntialiasError, match=r"cannot antialias the model: torch\.fx cannot trace _DataDependent\.forward"
    ) as caught:
        antialias(_DataDependent())
    assert caught.value.layer == ""


def test_a_stride_given_as_a_pair_gives_an_integer_blur_stride() -> None:
    baseline = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2, stride=(2, 2)), nn.AvgPool2d(2, stride=(2, 2)))
    model, report = antialias(baseline, filter_size=1, input_shape=(1, 3, 34, 34))  # even sizes: the same output
    assert [model.get_submodule(item.blur).stride for item in report.rewritten] == [2, 2]
    assert _forward(model, torch.randn(1, 3, 34, 34)).shape == (1, 4, 8, 8)


def test_the_package_name_stays_the_function_after_its_modules_are_imported() -> None:
    """`antialiased.antialias(model)`, as the docs show it, works in a process that imported the library's modules
    (the function's module has another name, so importing it cannot put a module in the function's place)."""
    import antialiased.antialias_report
    import antialiased.antialiasing
    import antialiased.finetune.output

    assert callable(antialiased.antialias) and antialiased.antialias is antialiased.antialiasing.antialias
