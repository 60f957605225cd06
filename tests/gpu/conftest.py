"""Tests of the CUDA path, marked `gpu` (`make gpu-check` runs them on a GPU machine and collects their figures).

Each test computes its CPU reference first and then asks `cuda_device()` (tests/gpu/cuda.py), which skips
the test where there is no CUDA device, so that everything up to that point runs in the ordinary suite too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gpu.cuda import save_tempered_network


@pytest.fixture(scope="session")
def tempered_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """See tests/gpu/cuda.py: the served network with random, tempered weights."""
    return save_tempered_network(tmp_path_factory.mktemp("gpu-weights"))
