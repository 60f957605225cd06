"""The model zoo computes what the paper's package computes.

For every architecture of `antialiased_cnns` (the test oracle) and every filter size its BlurPool supports,
our model loads the reference model's state_dict strictly, builds the same blur filters itself, and gives the
same logits. Both models get the same random weights, with batch-norm statistics calibrated on a random batch
so that activations and logits keep a trained model's scale.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from collections.abc import Iterator
from unittest import mock

import antialiased_cnns
import pytest
import torch
from torch import nn

from antialiased.models import create_model, list_architectures
from tests.support.random_weights import randomise_

FILTER_SIZES = range(1, 8)  # the reference BlurPool's taps
BATCH = 2
LOGITS_STD = 5.0  # the spread of a trained ImageNet model's logits; keeps the 1e-4 bound meaningful

# Small inputs whose feature maps stay larger than the reflect padding of filter size 7 at every BlurPool
# (alexnet needs 111, vgg 80, the others 51); odd heights exercise the asymmetric padding of even filters.
# (Smaller inputs per filter size would leave 1x1 maps, whose batch-norm calibration degenerates.)
_INPUT_SIZES = {"alexnet": (113, 120), "vgg": (81, 88), "densenet": (51, 60), "mobilenet": (51, 60)}
_DEFAULT_INPUT_SIZE = (53, 64)

# The random initialisers torch.nn and torchvision call while building a model. Building skips them:
# every value they would draw is replaced by `_random_weights` anyway, and they take most of the build time.
_RANDOM_INITS = ("uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "constant_", "ones_", "zeros_")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Hundreds of small forward passes: a second intra-op thread gains little, and on a busy machine its
    spin-waiting doubles the time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _reference_architectures() -> set[str]:
    modules = ("alexnet", "vgg", "densenet", "mobilenet", "resnet")
    names = {name for module in modules for name in sys.modules[f"antialiased_cnns.{module}"].__all__}
    return {name for name in names if name.islower()}


# (arch, filter size, builder options), architecture by architecture; `pool_only=False` is the paper's
# costlier variant that also blurs the stem convolution.
CASES = [
    *(pytest.param(arch, size, (), id=f"{arch}-lpf{size}") for arch in list_architectures() for size in FILTER_SIZES),
    *(
        pytest.param(arch, size, (("pool_only", False),), id=f"{arch}-lpf{size}-full")
        for arch in ("resnet18", "densenet121")
        for size in FILTER_SIZES
    ),
]


def _comparison_dtype(arch: str, filter_size: int) -> torch.dtype:
    """float32, except where both models compute the same function with float32 operations that round differently.

    At filter size 1 BlurPool is plain subsampling, a strided view. The reference DenseNet feeds that view to
    its next BatchNorm directly; torchvision's dense block concatenates it first (a contiguous copy). PyTorch's
    CPU batch norm rounds strided and contiguous inputs differently (~1e-6), and over 100+ layers this grows to
    ~2e-4 on the logits. In float64 that rounding noise vanishes, while any difference in what is computed would
    still show at full size.
    """
    return torch.float64 if arch.startswith("densenet") and filter_size == 1 else torch.float32


def _input_size(arch: str) -> tuple[int, int]:
    return next((size for prefix, size in _INPUT_SIZES.items() if arch.startswith(prefix)), _DEFAULT_INPUT_SIZE)


@contextlib.contextmanager
def _without_random_init() -> Iterator[None]:
    with mock.patch.multiple(torch.nn.init, **{name: lambda tensor, *args, **kwargs: tensor for name in _RANDOM_INITS}):
        yield


def _build_reference(arch: str, filter_size: int, options: tuple) -> nn.Module:
    with _without_random_init(), contextlib.redirect_stdout(io.StringIO()):  # it prints per BlurPool
        return getattr(antialiased_cnns, arch)(filter_size=filter_size, **dict(options))


@torch.no_grad()
def _calibrate_(model: nn.Module, x: torch.Tensor) -> None:
    """Batch-norm statistics of `x`, and the classifier scaled so that the logits of `x` spread by ~LOGITS_STD.

    Models without batch norm (AlexNet, plain VGGs) keep the scale of their He-initialised weights (a logit
    spread of 1.5-3), which spares them the extra forward pass.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    if not norms:
        return
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # cumulative average: after one batch, exactly its statistics
    scale = LOGITS_STD / model.train()(x).std()
    classifier = [module for module in model.modules() if isinstance(module, nn.Linear)][-1]
    classifier.weight.mul_(scale)
    classifier.bias.mul_(scale)


@functools.lru_cache(maxsize=1)  # the cases come architecture by architecture
def _random_weights(arch: str, options: tuple) -> dict[str, torch.Tensor]:
    """Random weights for `arch`, without the blur filters (the only tensors that depend on the filter size)."""
    model = _build_reference(arch, 4, options)
    randomise_(model, torch.Generator().manual_seed(0))
    return {key: value for key, value in model.state_dict().items() if not key.endswith(".filt")}


def test_zoo_has_every_architecture_of_the_reference_package() -> None:
    assert set(list_architectures()) == _reference_architectures()


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "filter_size", "options"), CASES)
def test_model_loads_reference_state_dict_strictly_and_gives_its_logits(
    arch: str, filter_size: int, options: tuple
) -> None:
    torch.manual_seed(0)  # the calibration pass runs dropout
    reference = _build_reference(arch, filter_size, options)
    missing, unexpected = reference.load_state_dict(_random_weights(arch, options), strict=False)
    assert not unexpected
    assert missing and all(key.endswith(".filt") for key in missing)
    x = torch.randn(BATCH, 3, *_input_size(arch), generator=torch.Generator().manual_seed(1))
    _calibrate_(reference, x)
    reference_state = reference.state_dict()

    with _without_random_init():
        ours = create_model(arch, filter_size=filter_size, **dict(options))
    our_filters = {key: value for key, value in ours.state_dict().items() if key.endswith(".filt")}
    assert sorted(our_filters) == sorted(missing), "BlurPool layers at other places than the reference's"
    for key, filt in our_filters.items():
        assert torch.equal(filt, reference_state[key]), f"{key} differs from the reference's blur filter"

    ours.load_state_dict(reference_state, strict=True, assign=True)
    dtype = _comparison_dtype(arch, filter_size)
    with torch.inference_mode():
        expected = reference.eval().to(dtype)(x.to(dtype))
        actual = ours.eval().to(dtype)(x.to(dtype))
    assert expected.shape == (BATCH, 1000)
    assert 1 < expected.std().item() < 50, "logits of a realistic scale, so that 1e-4 is a real bound"
    assert (actual - expected).abs().max().item() <= 1e-4


def test_resnet50_lpf4_state_dict_has_the_published_layout() -> None:
    state = create_model("resnet50", filter_size=4).state_dict()
    filters = {key: tuple(value.shape) for key, value in state.items() if key.endswith("filt")}
    assert len(state) == 327
    assert filters == {
        "maxpool.1.filt": (64, 1, 4, 4),
        **{f"layer{n}.0.conv3.0.filt": (c, 1, 4, 4) for n, c in ((2, 128), (3, 256), (4, 512))},
        **{f"layer{n}.0.downsample.0.filt": (c, 1, 4, 4) for n, c in ((2, 256), (3, 512), (4, 1024))},
    }


def test_create_model_rejects_an_unknown_architecture() -> None:
    with pytest.raises(ValueError, match=r"unknown architecture 'resnet51'; known: alexnet, densenet121"):
        create_model("resnet51")


@pytest.mark.parametrize("arch", ["resnet18", "vgg11", "alexnet", "densenet121", "mobilenet_v2"])
def test_create_model_rejects_an_unsupported_filter_size(arch: str) -> None:
    with _without_random_init(), pytest.raises(ValueError, match=r"filt_size must be one of \[1, 2, 3, 4, 5, 6, 7\]"):
        create_model(arch, filter_size=8)
