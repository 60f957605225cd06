"""Antialiased models built from torchvision baseline weights keep every baseline tensor, under the documented keys."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import antialiased_cnns
import pytest
import torch
from torch import nn

from antialiased.convert import from_baseline
from antialiased.models import create_baseline, create_model, list_architectures
from antialiased.weights import ArchitectureMismatchError
from tests.support.random_weights import randomise_

FILTER_SIZE = 4
_BASIC_BLOCK_RESNETS = ("resnet18", "resnet34")
# MobileNetV2's stride-2 inverted residual blocks; in each, a BlurPool follows the depthwise conv at `conv.1`.
_MOBILENET_STRIDED_BLOCKS = "2|4|7|14"


def _expected_key(arch: str, key: str, baseline: nn.Module) -> str:
    """Where the baseline tensor `key` lives in the antialiased model (the mapping of facts.md and convert.py)."""
    if arch.startswith(("resnet", "resnext", "wide_resnet")):
        moved = "conv2" if arch in _BASIC_BLOCK_RESNETS else "conv3"
        key = re.sub(rf"^(layer[234]\.0)\.{moved}\.", rf"\1.{moved}.1.", key)
        return re.sub(r"^(layer[234]\.0\.downsample)\.([01])\.", lambda m: f"{m[1]}.{int(m[2]) + 1}.", key)
    if arch.startswith(("vgg", "alexnet")):
        # Each strided max pool gains a BlurPool after it; AlexNet also one after its first ReLU.
        match = re.match(r"^features\.(\d+)\.(.+)$", key)
        if match is None:
            return key
        index = int(match[1])
        inserted = sum(isinstance(layer, nn.MaxPool2d) for layer in baseline.features[:index])
        inserted += arch == "alexnet" and index > 1
        return f"features.{index + inserted}.{match[2]}"
    if arch == "mobilenet_v2":
        pattern = rf"^features\.({_MOBILENET_STRIDED_BLOCKS})\.conv\.([23])\."
        key = re.sub(pattern, lambda m: f"features.{m[1]}.conv.{int(m[2]) + 1}.", key)
        return re.sub(r"^classifier\.1\.", "classifier.0.", key)
    assert arch.startswith("densenet"), arch
    return key


def _random_baseline(arch: str, seed: int = 0, **kwargs) -> nn.Module:
    """torchvision's `arch` with every tensor random and distinct (BN statistics and counters included)."""
    with torch.device("meta"):  # torchvision's own initialisation would be overwritten anyway
        model = create_baseline(arch, **kwargs)
    return randomise_(model.to_empty(device="cpu"), torch.Generator().manual_seed(seed))


@pytest.mark.slow
@pytest.mark.parametrize("arch", list_architectures())
def test_every_baseline_tensor_lands_under_its_mapped_key(arch: str) -> None:
    baseline = _random_baseline(arch)
    baseline_state = baseline.state_dict()
    converted_state = from_baseline(arch, baseline_state, filter_size=FILTER_SIZE).state_dict()

    mapping = {key: _expected_key(arch, key, baseline) for key in baseline_state}
    assert len(set(mapping.values())) == len(mapping)
    blur_filters = {key for key in converted_state if key.endswith(".filt")}
    assert blur_filters
    assert set(converted_state) == set(mapping.values()) | blur_filters
    for old, new in mapping.items():
        assert torch.equal(converted_state[new], baseline_state[old]), f"{old} -> {new}"


@pytest.mark.slow
@pytest.mark.parametrize("arch", list_architectures())
def test_converted_model_is_the_zoo_architecture_and_loads_into_it_strictly(arch: str) -> None:
    with torch.device("meta"):
        baseline = create_baseline(arch)
    # Only layers and keys matter here, so the weights are left uninitialised.
    converted = from_baseline(arch, baseline.to_empty(device="cpu").state_dict(), filter_size=FILTER_SIZE)
    with torch.device("meta"):
        target = create_model(arch, filter_size=FILTER_SIZE)
    assert repr(converted) == repr(target), "same layers, strides and blur settings"
    target.load_state_dict(converted.state_dict(), strict=True, assign=True)


@pytest.mark.parametrize("arch", ["resnet18", "alexnet", "densenet121", "mobilenet_v2"])
def test_converted_model_computes_what_the_reference_conversion_computes(arch: str) -> None:
    """The paper's package converts by copying parameters and buffers in order (`copy_params_buffers`)."""
    torch.manual_seed(0)
    baseline = _random_baseline(arch).eval()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints per BlurPool
        reference = getattr(antialiased_cnns, arch)(filter_size=FILTER_SIZE)
        antialiased_cnns.copy_params_buffers(baseline, reference)
    converted = from_baseline(arch, baseline.state_dict(), filter_size=FILTER_SIZE)
    x = torch.randn(2, 3, 120, 113, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = reference.eval()(x)
        actual = converted.eval()(x)
    assert expected.abs().max().item() > 1
    assert (actual - expected).abs().max().item() <= 1e-4


def test_resnet50_keys_move_as_documented() -> None:
    baseline_state = _random_baseline("resnet50").state_dict()
    converted_state = from_baseline("resnet50", baseline_state).state_dict()
    for n in (2, 3, 4):
        for old, new in (
            (f"layer{n}.0.conv3.weight", f"layer{n}.0.conv3.1.weight"),
            (f"layer{n}.0.downsample.0.weight", f"layer{n}.0.downsample.1.weight"),
            (f"layer{n}.0.downsample.1.running_var", f"layer{n}.0.downsample.2.running_var"),
        ):
            assert torch.equal(converted_state[new], baseline_state[old])
    assert len(converted_state) == 327


def test_checkpoint_file_and_legacy_densenet_keys_are_accepted(tmp_path: Path) -> None:
    state = _random_baseline("densenet121").state_dict()
    legacy = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", key): value for key, value in state.items()}
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    path = tmp_path / "densenet121-legacy.pth"
    torch.save(legacy, path)
    converted_state = from_baseline("densenet121", path).state_dict()
    for key, value in state.items():
        assert torch.equal(converted_state[key], value), key


def test_baseline_with_another_number_of_classes_needs_num_classes() -> None:
    state = _random_baseline("resnet18", num_classes=10).state_dict()
    assert from_baseline("resnet18", state, num_classes=10).fc.out_features == 10
    with pytest.raises(ArchitectureMismatchError, match=r"fc\.weight \(10, 512\) vs \(1000, 512\)"):
        from_baseline("resnet18", state)


def test_pool_only_false_blurs_the_stem_convolution_too() -> None:
    converted = from_baseline("resnet18", _random_baseline("resnet18").state_dict(), pool_only=False)
    with torch.device("meta"):
        assert repr(converted) == repr(create_model("resnet18", pool_only=False))
    assert converted.conv1.stride == (1, 1)


def test_state_dict_of_another_architecture_is_rejected_naming_the_keys() -> None:
    pattern = (
        r"not a state_dict of torchvision's resnet18: .*missing: conv1\.weight, bn1\.weight, .*"
        r"unexpected: features\.0\.0\.weight, "
    )
    with pytest.raises(ArchitectureMismatchError, match=pattern):
        from_baseline("resnet18", _random_baseline("mobilenet_v2").state_dict())


def test_state_dict_of_a_sibling_architecture_is_rejected_naming_the_shapes() -> None:
    pattern = (
        r"not a state_dict of torchvision's resnet50: .*missing: layer1\.0\.conv3\.weight, .*"
        r"of another shape: layer1\.0\.conv1\.weight \(64, 64, 3, 3\) vs \(64, 64, 1, 1\)"
    )
    with pytest.raises(ArchitectureMismatchError, match=pattern):
        from_baseline("resnet50", _random_baseline("resnet18").state_dict())


def test_antialiased_state_dict_is_rejected_as_a_baseline() -> None:
    with torch.device("meta"):
        antialiased_state = create_model("resnet18").state_dict()
    with pytest.raises(ArchitectureMismatchError, match=r"missing: .*layer2\.0\.conv2\.weight.*unexpected: .*filt"):
        from_baseline("resnet18", antialiased_state)


def test_unknown_architecture_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown architecture 'resnet51'; known: alexnet, densenet121"):
        from_baseline("resnet51", {})
