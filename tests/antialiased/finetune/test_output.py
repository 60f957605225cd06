"""The run's result (antialiased/finetune/output.py), without training: the registry written atomically, an entry
replaced by name; a checkpoint of other classes registered with its label set; a network outside the zoo exported
and registered as a program that computes what it computes; one that cannot be exported is named in a warning
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
from antialiased.finetune.network import BuiltModel
from antialiased.finetune.output import write_output
from antialiased.label_sets import IMAGENET, LabelSet
from antialiased.models import create_model
from antialiased.weights import load_pretrained
from antialiased.weights.registry import REGISTRY_ENV, get_entry
from antialiased.weights.registry_file import REGISTRY_FILE

COLOURS = LabelSet.of_names(["blue", "green", "red"])


class _Tiny(nn.Module):
    """A small CNN outside the zoo: a strided convolution, a pool and a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@torch.fx.wrap
def _flip_unless_positive(logits: torch.Tensor) -> torch.Tensor:
    """A branch on the values, which torch.export cannot capture (kept whole by torch.fx, and not taken on the
    meta device, where `antialias` runs the network to learn its shapes)."""
    if logits.device.type != "meta" and logits.sum() < 0:
        return -logits
    return logits


class _Branching(_Tiny):
    """_Tiny with a branch on its output's values."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _flip_unless_positive(super().forward(x))


def _python_in(message: str) -> nn.Module:
    """The model the warning's Python loads (`network = <...>;` given: the network the test antialiased)."""
    code = re.sub(r"^network = <[^>]*>; ", "", message.split(": ")[-1])
    scope = {"network": _with_classes(_Branching(), 3)}
    exec(code, scope)
    return scope["model"]


def _with_classes(network: _Tiny, classes: int) -> _Tiny:
    network.fc = nn.Linear(4, classes)
    return network


def _zoo(network: nn.Module, arch: str = "resnet18", filter_size: int = 4) -> BuiltModel:
    return BuiltModel(network, arch, filter_size, arch)


def test_the_registry_is_replaced_atomically_and_keeps_other_entries(tmp_path: Path) -> None:
    built = _zoo(create_model("resnet18", filter_size=4))
    write_output(built.network, tmp_path, "first", built, IMAGENET, None)
    write_output(built.network, tmp_path, "second", built, IMAGENET, None)
    figures = {"top1": {"value": 1.0}, "consistency": {"value": 2.0}}
    write_output(built.network, tmp_path, "first", built, IMAGENET, figures)
    entries = json.loads((tmp_path / REGISTRY_FILE).read_text())
    assert [entry["name"] for entry in entries] == ["second", "first"] and entries[1]["accuracy"] == 1.0
    assert entries[1]["labels"] is None, "ImageNet's label set is the default, not copied"
    assert sorted(path.name for path in tmp_path.iterdir()) == [REGISTRY_FILE, "weights"], "no partial file left"


def test_other_classes_are_registered_with_their_label_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = _zoo(create_model("resnet18", filter_size=3, num_classes=3), filter_size=3)
    path, registered = write_output(built.network, tmp_path, "mine", built, COLOURS, None, 64)
    assert registered == "mine" and path.is_file()
    (record,) = json.loads((tmp_path / REGISTRY_FILE).read_text())
    assert record["labels"] == f"weights/{path.stem}.labels.json" and record["num_classes"] == 3
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / REGISTRY_FILE))
    assert get_entry("mine").label_set == COLOURS
    loaded = load_pretrained("mine", cache_dir=tmp_path / "cache")
    torch.testing.assert_close(loaded.state_dict(), built.network.state_dict(), rtol=0, atol=0)


def test_a_network_outside_the_zoo_is_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    network = antialias(_with_classes(_Tiny(), 3), 2, input_shape=(1, 3, 32, 32)).model.eval()
    built = BuiltModel(network, None, 2, "tests.antialiased.finetune.test_output:_Tiny")
    path, registered = write_output(network, tmp_path, "mine", built, COLOURS, None, 32)
    assert registered == "mine" and path.is_file()
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / REGISTRY_FILE))
    entry = get_entry("mine")
    assert entry.format == "pt2" and entry.label_set == COLOURS and entry.arch == built.source
    program = load_pretrained("mine")
    batch = torch.randn(4, 3, 48, 40)
    with torch.inference_mode():
        difference = (program(batch).softmax(dim=1) - network(batch).softmax(dim=1)).abs().max().item()
    assert difference <= 1e-5


def test_a_network_that_cannot_be_exported_and_the_warning_loads_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    network = antialias(_with_classes(_Branching(), 3), 2, input_shape=(1, 3, 32, 32)).model
    built = BuiltModel(network, None, 2, "tests.antialiased.finetune.test_output:_Branching")
    with caplog.at_level(logging.WARNING, logger="antialiased"):
        path, registered = write_output(network, tmp_path, "mine", built, COLOURS, None, 32)
    assert registered is None and not (tmp_path / REGISTRY_FILE).exists()
    (message,) = caplog.messages
    assert message.startswith(f"{path}: no registry entry (torch.export cannot export mine") and path.is_file()
    assert "3 outputs" in message
    loaded = _python_in(message)
    torch.testing.assert_close(loaded.state_dict(), network.state_dict(), rtol=0, atol=0)
