"""The run's result (antialiased/finetune/output.py), without training: the registry written atomically, an entry
replaced by name; a checkpoint that gets no entry (other classes, a network outside the zoo) is named in a warning
whose Python loads it, as written."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from antialiased.antialiasing import antialias
from antialiased.finetune.output import REGISTRY_FILE, write_output
from antialiased.models import create_model


class _Tiny(nn.Module):
    """A small CNN outside the zoo: a strided convolution, a pool and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _python_in(message: str) -> nn.Module:
    """The model the warning's Python loads (`network = <...>;` given: the network the test antialiased)."""
    code = re.sub(r"^network = <[^>]*>; ", "", message.split(": ")[-1])
    scope = {"network": _with_classes(_Tiny(), 3)}
    exec(code, scope)
    return scope["model"]


def _with_classes(network: _Tiny, classes: int) -> _Tiny:
    network.fc = nn.Linear(4, classes)
    return network


def test_the_registry_is_replaced_atomically_and_keeps_other_entries(tmp_path: Path) -> None:
    network = create_model("resnet18", filter_size=4)
    write_output(network, tmp_path, "first", "resnet18", 4, 1000, None)
    write_output(network, tmp_path, "second", "resnet18", 4, 1000, None)
    write_output(
        network, tmp_path, "first", "resnet18", 4, 1000, {"top1": {"value": 1.0}, "consistency": {"value": 2.0}}
    )
    entries = json.loads((tmp_path / REGISTRY_FILE).read_text())
    assert [entry["name"] for entry in entries] == ["second", "first"] and entries[1]["accuracy"] == 1.0
    assert sorted(path.name for path in tmp_path.iterdir()) == [REGISTRY_FILE, "weights"], "no partial file left"


def test_other_classes_no_entry_and_the_warning_loads_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    network = create_model("resnet18", filter_size=3, num_classes=5)
    with caplog.at_level(logging.WARNING):
        path, entry = write_output(network, tmp_path, "mine", "resnet18", 3, 5, None, 64)
    assert entry is None and not (tmp_path / REGISTRY_FILE).exists()
    (message,) = caplog.messages
    assert message.startswith(f"{path}: no registry entry") and path.is_file()
    assert "5 classes, not ImageNet's 1000" in message and "labels are ImageNet's" in message
    loaded = _python_in(message)
    torch.testing.assert_close(loaded.state_dict(), network.state_dict(), rtol=0, atol=0)


def test_a_network_outside_the_zoo_and_the_warning_loads_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    network = antialias(_with_classes(_Tiny(), 3), 2, input_shape=(1, 3, 32, 32)).model
    with caplog.at_level(logging.WARNING):
        path, entry = write_output(network, tmp_path, "mine", None, 2, 3, None, 32)
    assert entry is None and not (tmp_path / REGISTRY_FILE).exists()
    (message,) = caplog.messages
    assert message.startswith(f"{path}: no registry entry") and path.is_file()
    assert "not an architecture of the zoo" in message and "3 outputs" in message
    loaded = _python_in(message)
    torch.testing.assert_close(loaded.state_dict(), network.state_dict(), rtol=0, atol=0)
