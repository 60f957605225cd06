"""The models the test TorchServe serves (see tests/conftest.py): names, archive specs, network builders."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from antialiased.models import create_baseline, create_model
from antialiased.weights.registry import get_entry
from archives.archive import model_spec
from tests.support.models import circular_invariant

LPF_MODEL = "resnet50_lpf4"
BASELINE_MODEL = "resnet50"
CIRCULAR_MODEL = "circular_invariant"
SERVED_MODELS = (LPF_MODEL, BASELINE_MODEL, CIRCULAR_MODEL)

# Name -> the handler.model section of its archive.
MODEL_SPECS: dict[str, dict] = {
    LPF_MODEL: model_spec(get_entry("resnet50_lpf4_finetune")),
    BASELINE_MODEL: model_spec(get_entry("resnet50_baseline")),
    CIRCULAR_MODEL: circular_invariant.model_spec(),
}

# Name -> a builder of the (randomly initialised) network, the same one the archive's spec builds.
NETWORK_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    LPF_MODEL: lambda: create_model("resnet50", 4),
    BASELINE_MODEL: lambda: create_baseline("resnet50"),
    CIRCULAR_MODEL: circular_invariant.CircularInvariant,
}
