"""The weights registry: the paper's checkpoints and torchvision's baseline with their published numbers, entries of
your own (registered, or from a JSON registry file) and the errors that name what is wrong."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from torchvision.models import ResNet50_Weights

from antialiased.weights import RegistryError, UnknownWeightsError
from antialiased.weights.fetch import fetch
from antialiased.weights.registry import REGISTRY_ENV, WeightsEntry, get_entry, list_entries, register
from tests.support.weights_mirror import FAR_AWAY, LocalMirror, file_fields


def test_registry_holds_every_checkpoint_of_the_reference_package_with_its_url_and_hash() -> None:
    modules = ("resnet", "alexnet", "vgg", "densenet", "mobilenet")
    urls = {
        name: url
        for module in modules
        for name, url in importlib.import_module(f"antialiased_cnns.{module}").model_urls.items()
    }
    paper = {entry.name: entry for entry in list_entries() if entry.source == "paper"}
    assert set(paper) == set(urls)
    for name, url in urls.items():
        entry = paper[name]
        assert entry.url == url
        assert entry.sha256_prefix == url.rsplit("-", 1)[1].removesuffix(".pth")
        assert entry.arch == name.split("_lpf")[0]
        assert entry.filter_size == int(name.split("_lpf")[1][0])
        assert entry.finetuned == name.endswith("_finetune")


def test_registry_carries_the_published_resnet50_numbers() -> None:
    finetuned, scratch = get_entry("resnet50_lpf4_finetune"), get_entry("resnet50_lpf4")
    assert (finetuned.accuracy, finetuned.consistency, finetuned.training) == (77.41, 91.32, "finetune")
    assert (scratch.accuracy, scratch.consistency, scratch.training) == (77.23, 91.29, "scratch")
    assert finetuned.sha256_prefix == "cad66808" and scratch.sha256_prefix == "994b528f"


def test_baseline_entry_is_torchvisions_resnet50_imagenet_weights() -> None:
    entry = get_entry("resnet50_baseline")
    assert entry.url == ResNet50_Weights.IMAGENET1K_V1.url
    assert entry.sha256_prefix == "0676ba61"
    assert (entry.arch, entry.filter_size, entry.antialiased) == ("resnet50", None, False)
    assert (entry.accuracy, entry.consistency) == (76.16, 89.20)


def test_entries_are_frozen() -> None:
    with pytest.raises(AttributeError):
        get_entry("resnet50_lpf4").url = "http://elsewhere/"


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownWeightsError, match="did you mean resnet50_lpf4_finetune") as caught:
        get_entry("resnet50_lpf4_fintune")
    with pytest.raises(UnknownWeightsError):
        fetch("no_such_weights")
    assert "\n" not in str(caught.value)


def test_register_refuses_builtin_names_duplicates_and_invalid_fields(registered: WeightsEntry) -> None:
    official = get_entry("resnet50_lpf4_finetune")
    with pytest.raises(RegistryError, match="built-in"):
        register(WeightsEntry(official.name, official.url, official.sha256_prefix, "resnet50", 4))
    with pytest.raises(RegistryError, match="already registered"):
        register(registered)
    assert register(registered, replace=True) is registered
    with pytest.raises(RegistryError, match="sha256_prefix"):
        WeightsEntry("mine", FAR_AWAY + "mine.pth", "not-hex!", "resnet50", 4)
    with pytest.raises(RegistryError, match="filter_size"):
        WeightsEntry("mine", FAR_AWAY + "mine.pth", "0123abcd", "resnet50", 9)
    with pytest.raises(RegistryError, match="url"):
        WeightsEntry("mine", "ftp://host/mine.pth", "0123abcd", "resnet50", 4)


def test_user_registry_file_adds_entries_that_fetch_from_the_local_mirror(
    mirror: LocalMirror, reference_resnet18: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.serve(reference_resnet18)
    user_file = tmp_path / "registry.json"
    user_file.write_text(json.dumps([{**file_fields(reference_resnet18), "name": "team_resnet18"}]))
    monkeypatch.setenv(REGISTRY_ENV, str(user_file))
    assert "team_resnet18" in [entry.name for entry in list_entries()]
    path = fetch("team_resnet18", progress=False)
    assert path.read_bytes() == reference_resnet18.read_bytes()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "the JSON registry is not readable JSON"),
        ('{"name": "x"}', "expected a JSON list"),
        ('[{"name": "x", "url": "https://h/x-0123abcd.pth"}]', "missing keys"),
        ('[{"name": "x", "url": "https://h/x.pth", "sha256_prefix": "zz", "arch": "resnet50", "filter_size": 4}]',
         "sha256_prefix"),
        ('[{"name": "resnet50_lpf4", "url": "https://h/r-0123abcd.pth", "sha256_prefix": "0123abcd", '
         '"arch": "resnet50", "filter_size": 4}]', "already taken"),
    ],
    ids=["not-json", "not-a-list", "missing-keys", "bad-hash", "builtin-name"],
)  # fmt: skip
def test_invalid_user_registry_file_is_a_registry_error_naming_the_file(
    content: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file = tmp_path / "registry.json"
    user_file.write_text(content)
    monkeypatch.setenv(REGISTRY_ENV, str(user_file))
    with pytest.raises(RegistryError, match=problem) as caught:
        get_entry("resnet50_lpf4_finetune")
    assert str(user_file) in str(caught.value)
