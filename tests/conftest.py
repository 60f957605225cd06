"""Shared session fixtures: one real TorchServe serving the test models, started once per test session.

`torchserve` (a `launcher.torchserve.TorchServe`: inference_url, management_url, metrics_url, models,
predict(), headers()) serves three archives built into a temporary model store, with RANDOM weights
written in the official checkpoint format (nothing is downloaded); names in tests/support/served_models.py:
- LPF_MODEL "resnet50_lpf4": the antialiased ResNet50 (filter 4),
- BASELINE_MODEL "resnet50": torchvision's ResNet50,
- CIRCULAR_MODEL "circular_invariant": tests/support/models/circular_invariant.py, exactly invariant to circular shifts.
The fixture waits until each model answers a real prediction and stops TorchServe at the end.
`served_checkpoints` maps each model name to its weights file, for in-process comparisons.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from antialiased.weights import save_checkpoint
from archives.archive import build_archive
from launcher.torchserve import TorchServe, start_torchserve
from tests.support.models import circular_invariant
from tests.support.served_models import (
    CIRCULAR_MODEL,
    MODEL_SPECS,
    NETWORK_BUILDERS,
    READY_TIMEOUT_S,
    SERVED_MODELS,
    TEST_OVERRIDES,
)


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C works in the suite and in the programs it starts, even when the suite was started in the background
    of a non-interactive shell (which ignores SIGINT; an ignored signal stays ignored across exec, so the tests that
    interrupt a run with SIGINT would wait for a process that never hears it)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# The servers of other projects (stock TorchServe, KServe, a misbehaving one) for tests/service/targets and tests/docs.
pytest_plugins = ("tests.service.targets.servers",)


def _random_networks() -> dict[str, torch.nn.Module]:
    """Name -> the randomly initialised (seeded) network its archive serves."""
    torch.manual_seed(0)
    return {name: build() for name, build in NETWORK_BUILDERS.items()}


@pytest.fixture(scope="session")
def served_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model name -> the random-weights checkpoint (official format) its archive serves."""
    directory = tmp_path_factory.mktemp("weights")
    return {name: save_checkpoint(model, directory, f"{name}_random") for name, model in _random_networks().items()}


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory, served_checkpoints: dict[str, Path]) -> Path:
    """A temporary model store with one archive per served test model."""
    store = tmp_path_factory.mktemp("model_store")
    for name, weights_path in served_checkpoints.items():
        build_archive(
            name,
            store=store,
            weights_path=weights_path,
            model=MODEL_SPECS[name],
            weights_name=None,
            untrained=True,
            overrides=TEST_OVERRIDES,
            extra_files=[Path(circular_invariant.__file__)] if name == CIRCULAR_MODEL else (),
        )
    return store


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory: pytest.TempPathFactory, model_store: Path) -> Iterator[TorchServe]:
    """A real TorchServe on free 127.0.0.1 ports, serving SERVED_MODELS; every model answered a prediction."""
    workdir = tmp_path_factory.mktemp("torchserve")
    server = start_torchserve(model_store, SERVED_MODELS, workdir, log_file=workdir / "torchserve.out")
    try:
        server.wait_until_ready(READY_TIMEOUT_S)
        yield server
    finally:
        server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's system browser) driven by Playwright, for the page tests."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh test (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
