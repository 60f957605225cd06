"""`antialias` on torchvision's models computes exactly what the zoo's antialiased models compute, and what the
authors' package (`antialiased_cnns`, the test oracle) computes, on the same random weights.

Each architecture needs the options of docs/antialias.md's table: the authors' ResNets blur a 2x2 max pool (where the
recipe keeps torchvision's 3x3 one), their AlexNet blurs its stem convolution, their MobileNetV2 leaves its stem
convolution strided.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import antialiased_cnns
import pytest
import torch
from antialiased_cnns.blurpool import get_pad_layer
from torch import nn

from antialiased import antialias
from antialiased.convert import from_baseline
from antialiased.models import create_baseline, list_architectures
from tests.support.random_weights import randomise_

TOLERANCE = 1e-5
BATCH = 2
# Small inputs that keep every blurred feature map larger than its reflect padding (AlexNet needs the largest).
_INPUT_SIZES = {"alexnet": (127, 120), "vgg": (64, 64)}
_DEFAULT_INPUT_SIZE = (64, 71)
_FAMILY_OPTIONS: dict[str, dict[str, Any]] = {
    "resnet": {"max_pool_kernel": 2},
    "resnext": {"max_pool_kernel": 2},
    "wide_resnet": {"max_pool_kernel": 2},
    "alexnet": {"pool_only": False},
    "mobilenet_v2": {"skip": 1},
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Many small forward passes: a second intra-op thread gains little, and on a busy machine its spin-waiting
    doubles the time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _options(arch: str, pool_only: bool | None = None) -> dict[str, Any]:
    """The `antialias` options under which torchvision's `arch` becomes the zoo's (docs/antialias.md)."""
    options = next((dict(value) for prefix, value in _FAMILY_OPTIONS.items() if arch.startswith(prefix)), {})
    return options if pool_only is None else {**options, "pool_only": pool_only}


def _random_baseline(arch: str) -> nn.Module:
    with torch.device("meta"):  # torchvision's own initialisation would be overwritten anyway
        model = create_baseline(arch)
    return randomise_(model.to_empty(device="cpu"), torch.Generator().manual_seed(0)).eval()


def _input(arch: str) -> torch.Tensor:
    size = next((size for prefix, size in _INPUT_SIZES.items() if arch.startswith(prefix)), _DEFAULT_INPUT_SIZE)
    return torch.randn(BATCH, 3, *size, generator=torch.Generator().manual_seed(1))


def _max_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode():
        expected, actual = a.eval()(x), b.eval()(x)
    assert expected.shape == actual.shape == (BATCH, 1000)
    assert expected.abs().max().item() > 1, "logits far from zero, so that the bound means something"
    return (actual - expected).abs().max().item()


CASES = [
    *(pytest.param(arch, None, id=arch) for arch in list_architectures()),
    *(pytest.param(arch, False, id=f"{arch}-full") for arch in ("resnet18", "densenet121")),
]


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "pool_only"), CASES)
def test_antialiased_torchvision_model_computes_the_zoo_model(arch: str, pool_only: bool | None) -> None:
    baseline = _random_baseline(arch)
    zoo_options = {} if pool_only is None else {"pool_only": pool_only}
    zoo = from_baseline(arch, baseline.state_dict(), **zoo_options)
    model, report = antialias(baseline, input_shape=(1, 3, 224, 224), **_options(arch, pool_only))
    zoo_filters = sorted(key for key in zoo.state_dict() if key.endswith(".filt"))
    assert len(report.blur_filters) == len(zoo_filters), "as many blurs as the zoo's model"
    assert _max_difference(zoo, model, _input(arch)) <= TOLERANCE


@pytest.mark.parametrize(
    ("arch", "pool_only"),
    [("resnet18", True), ("resnet18", False), ("resnet50", True), ("densenet121", True), ("alexnet", False),
     ("mobilenet_v2", None), ("vgg11_bn", None)],
)  # fmt: skip
def test_antialiased_torchvision_model_computes_the_authors_model(arch: str, pool_only: bool | None) -> None:
    baseline = _random_baseline(arch)
    authors_options = {} if pool_only is None else {"pool_only": pool_only}
    with contextlib.redirect_stdout(io.StringIO()):  # it prints per BlurPool
        authors = getattr(antialiased_cnns, arch)(filter_size=4, **authors_options)
        antialiased_cnns.copy_params_buffers(baseline, authors)  # parameters and buffers in order
    model, _ = antialias(baseline, filter_size=4, **_options(arch, pool_only))
    assert _max_difference(authors, model, _input(arch)) <= TOLERANCE


@pytest.mark.parametrize(("filter_size", "pad_type"), [(1, "reflect"), (2, "zero"), (3, "replicate"), (7, "reflect")])
def test_filter_size_and_pad_type_reach_every_blur(filter_size: int, pad_type: str) -> None:
    baseline = _random_baseline("resnet18")
    with contextlib.redirect_stdout(io.StringIO()):
        authors = antialiased_cnns.resnet18(filter_size=filter_size)
        antialiased_cnns.copy_params_buffers(baseline, authors)
    for module in authors.modules():  # its ResNets take no pad type: each BlurPool gets its padding layer
        if isinstance(module, antialiased_cnns.BlurPool):
            module.pad = get_pad_layer(pad_type)(module.pad_sizes)
    model, report = antialias(baseline, filter_size=filter_size, pad_type=pad_type, max_pool_kernel=2)
    blurs = [model.get_submodule(item.blur) for item in report.rewritten]
    assert {(blur.filt_size, blur.pad_type) for blur in blurs} == {(filter_size, pad_type)}
    assert _max_difference(authors, model, _input("resnet18")) <= TOLERANCE
