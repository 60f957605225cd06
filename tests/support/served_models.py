"""The models the test TorchServe serves (see tests/conftest.py): names, archive specs, network builders, and the
model-config overrides and readiness wait of every test TorchServe."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from antialiased.models import create_baseline, create_model
from antialiased.weights.registry import get_entry
from archives.archive import model_spec
from tests.support.models import circular_invariant

BATCH_SIZE = 8
MAX_BATCH_DELAY_MS = 100
# Tests compare served and in-process predictions in float32 on the CPU, so the workers run on the CPU.
TEST_OVERRIDES = {
    "batchSize": BATCH_SIZE,
    "maxBatchDelay": MAX_BATCH_DELAY_MS,
    "minWorkers": 1,
    "maxWorkers": 1,
    "handler": {"device": "cpu"},
}
READY_TIMEOUT_S = 240

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
