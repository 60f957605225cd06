"""A TorchServe of its own for the attacks (the session's TorchServe stays undisturbed): the tiny circular-invariant
model with small limits, so that decoding, not the model, dominates, and a short job queue, beside the tiny
white-intolerant model (its forward pass fails on an all-white view) and the gated model (a test holds its forward
passes: `model_gate`); probe services in front of it with the settings each test needs
(`tests.support.resilience.start_probe`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from antialiased.weights import save_checkpoint
from archives.archive import build_archive
from launcher.torchserve import TorchServe, start_torchserve
from tests.support import model_gate as gated
from tests.support.models import circular_invariant, white_intolerant
from tests.support.resilience import JOB_QUEUE_SIZE, OVERRIDES, WHITE_INTOLERANT_MODEL
from tests.support.served_models import CIRCULAR_MODEL, MODEL_SPECS


@pytest.fixture(scope="package")
def gate_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@pytest.fixture
def model_gate(fragile_torchserve: TorchServe, gate_folder: Path) -> Iterator[gated.ModelGate]:
    """The gated model's gate, open again after the test."""
    held = gated.ModelGate(gate_folder)
    try:
        yield held
    finally:
        held.open()


@pytest.fixture(scope="package")
def fragile_torchserve(
    tmp_path_factory: pytest.TempPathFactory, served_checkpoints: dict[str, Path], gate_folder: Path
) -> Iterator[TorchServe]:
    store = tmp_path_factory.mktemp("fragile_store")
    build_archive(
        CIRCULAR_MODEL,
        store=store,
        weights_path=served_checkpoints[CIRCULAR_MODEL],
        model=MODEL_SPECS[CIRCULAR_MODEL],
        weights_name=None,
        untrained=True,
        overrides=OVERRIDES,
        extra_files=[Path(circular_invariant.__file__)],
    )
    torch.manual_seed(0)
    weights = tmp_path_factory.mktemp("fragile_weights")
    build_archive(
        WHITE_INTOLERANT_MODEL,
        store=store,
        weights_path=save_checkpoint(white_intolerant.WhiteIntolerant(), weights, "white_intolerant_random"),
        model=white_intolerant.model_spec(),
        weights_name=None,
        untrained=True,
        overrides={**OVERRIDES, "handler": {**OVERRIDES["handler"], **white_intolerant.OVERRIDES["handler"]}},
        extra_files=[Path(white_intolerant.__file__)],
    )
    build_archive(
        gated.GATED_MODEL,
        store=store,
        weights_path=served_checkpoints[CIRCULAR_MODEL],
        model=gated.model_spec(gate_folder),
        weights_name=None,
        untrained=True,
        overrides={**OVERRIDES, "handler": {**OVERRIDES["handler"], **gated.OVERRIDES["handler"]}},
        extra_files=gated.EXTRA_FILES,
    )
    workdir = tmp_path_factory.mktemp("fragile_torchserve")
    models = [CIRCULAR_MODEL, WHITE_INTOLERANT_MODEL, gated.GATED_MODEL]
    log_file = workdir / "torchserve.out"
    server = start_torchserve(store, models, workdir, job_queue_size=JOB_QUEUE_SIZE, log_file=log_file)
    try:
        server.wait_until_ready(240)
        yield server
    finally:
        server.stop()
