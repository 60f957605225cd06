"""The weights tests' fixtures: an isolated cache and a mirror that is down unless a test starts one
(tests/support/weights_mirror.py), and the reference package's resnet18 checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import antialiased_cnns
import pytest
import torch

from antialiased.weights import save_checkpoint
from antialiased.weights.fetch import CACHE_ENV, MIRROR_ENV
from antialiased.weights.registry import REGISTRY_ENV, WeightsEntry, register, unregister
from tests.support.weights_mirror import LocalMirror, closed_port_url, entry_for


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache per test, no user registry file, and a mirror that is down unless a test starts one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    monkeypatch.setenv(MIRROR_ENV, closed_port_url())
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    return cache


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMirror]:
    directory = tmp_path / "served"
    directory.mkdir()
    server = LocalMirror(directory)
    monkeypatch.setenv(MIRROR_ENV, server.base_url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def reference_resnet18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference package's random-init antialiased resnet18 (lpf4), official layout, hash-named."""
    torch.manual_seed(0)
    model = antialiased_cnns.resnet18(pretrained=False, filter_size=4)
    return save_checkpoint(model, tmp_path_factory.mktemp("checkpoints"), "my_resnet18_lpf4")


@pytest.fixture
def registered(reference_resnet18: Path) -> Iterator[WeightsEntry]:
    """A user entry for `reference_resnet18`, registered with the file's true hash."""
    entry = register(entry_for(reference_resnet18, arch="resnet18", filter_size=4))
    yield entry
    unregister(entry.name)
