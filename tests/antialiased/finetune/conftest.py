"""The inputs the fine-tuning tests share: a small data folder and a random baseline checkpoint, made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.finetune import baseline_checkpoint, small_data


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder, baseline checkpoint): read only; a test that changes the data copies it first."""
    root = tmp_path_factory.mktemp("inputs")
    return small_data(root / "data"), baseline_checkpoint(root / "baseline")
