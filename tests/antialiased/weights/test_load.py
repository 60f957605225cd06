"""Loading checkpoints: the official layout saved and loaded strictly, training checkpoints, bare baseline
state_dicts, the published DenseNet files' legacy keys, and the errors that name what does not fit."""

from __future__ import annotations

import argparse
from pathlib import Path

import antialiased_cnns
import pytest
import torch
import torchvision

from antialiased.models import create_model
from antialiased.weights import (
    ArchitectureMismatchError,
    CheckpointFormatError,
    load_state_dict,
    save_checkpoint,
    sha256_file,
)
from antialiased.weights.load import load_weights
from tests.support.weights_mirror import LocalMirror, files_in, load_pretrained_as


def test_save_checkpoint_writes_the_official_layout_under_a_hash_suffixed_name(tmp_path: Path) -> None:
    model = create_model("resnet18", 4)
    wrapped_state = {f"module.{key}": value for key, value in model.state_dict().items()}
    path = save_checkpoint(wrapped_state, tmp_path, "mine")
    assert path.name == f"mine-{sha256_file(path)[:8]}.pth"
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert list(raw) == ["state_dict"] and list(raw["state_dict"]) == list(model.state_dict())
    assert files_in(tmp_path) == [path.name]


def test_reference_resnet50_lpf4_checkpoint_loads_strictly_through_load_pretrained(
    mirror: LocalMirror, tmp_path: Path
) -> None:
    reference = antialiased_cnns.resnet50(pretrained=False, filter_size=4).state_dict()
    assert len(reference) == 327 and sum(key.endswith(".filt") for key in reference) == 7
    path = save_checkpoint(reference, tmp_path, "reference_resnet50_lpf4")
    model = load_pretrained_as(mirror.serve(path), arch="resnet50", filter_size=4)
    ours = model.state_dict()
    assert list(ours) == list(reference)
    assert all(torch.equal(ours[key], reference[key]) for key in reference)


def test_training_checkpoint_with_module_prefixes_and_optimizer_loads(tmp_path: Path) -> None:
    model = create_model("resnet18", 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    optimizer.step()
    checkpoint = {
        "epoch": 90,
        "arch": "resnet18_lpf4",
        "state_dict": {f"module.{key}": value for key, value in model.state_dict().items()},
        "best_acc1": torch.tensor(71.48),
        "optimizer": optimizer.state_dict(),
    }
    torch.save(checkpoint, tmp_path / "checkpoint.pth.tar")
    state = load_state_dict(tmp_path / "checkpoint.pth.tar")
    assert list(state) == list(model.state_dict())
    loaded = load_weights(create_model("resnet18", 4), tmp_path / "checkpoint.pth.tar")
    assert torch.equal(loaded.conv1.weight, model.conv1.weight)


def test_bare_baseline_state_dict_loads_into_the_baseline_through_load_pretrained(
    mirror: LocalMirror, tmp_path: Path
) -> None:
    baseline = torchvision.models.resnet18(weights=None)
    path = tmp_path / "bare"
    path.mkdir()
    raw = path / "tmp.pth"
    torch.save(baseline.state_dict(), raw)  # torchvision's own layout: a bare state_dict
    served = mirror.serve(raw, f"my_baseline-{sha256_file(raw)[:8]}.pth")
    model = load_pretrained_as(served, arch="resnet18", filter_size=None)
    assert type(model) is torchvision.models.ResNet and isinstance(model.maxpool, torch.nn.MaxPool2d)
    assert torch.equal(model.fc.weight, baseline.fc.weight)


def test_file_of_another_architecture_names_missing_and_unexpected_keys(reference_resnet18: Path) -> None:
    with pytest.raises(ArchitectureMismatchError) as caught:
        load_weights(create_model("resnet34", 4), reference_resnet18)
    message = str(caught.value)
    assert "missing: layer1.2." in message and "more)" in message  # resnet34 has more blocks than resnet18
    with pytest.raises(ArchitectureMismatchError, match=r"unexpected: layer1\.0\.conv3\.weight"):
        load_weights(
            create_model("resnet18", 4),
            {**load_state_dict(reference_resnet18), "layer1.0.conv3.weight": torch.zeros(1)},
        )


def test_file_of_another_filter_size_names_the_blur_filters_of_another_shape(reference_resnet18: Path) -> None:
    with pytest.raises(
        ArchitectureMismatchError, match=r"of another shape: maxpool\.1\.filt \(64, 1, 4, 4\) vs \(64, 1, 3, 3\)"
    ):
        load_weights(create_model("resnet18", 3), reference_resnet18)


def test_load_pretrained_of_an_entry_with_the_wrong_arch_raises_architecture_mismatch(
    mirror: LocalMirror, reference_resnet18: Path
) -> None:
    mirror.serve(reference_resnet18)
    with pytest.raises(ArchitectureMismatchError, match="missing"):
        load_pretrained_as(reference_resnet18, arch="resnet34", filter_size=4, name="mislabelled")


def test_unreadable_checkpoints_are_format_errors(reference_resnet18: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(reference_resnet18.read_bytes()[:100_000])
    text = tmp_path / "text.pth"
    text.write_text("not a checkpoint")
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"state_dict": {}, "args": argparse.Namespace(lr=0.1)}, unsafe)  # weights_only refuses
    no_tensors = tmp_path / "no_tensors.pth"
    torch.save({"epoch": 3, "arch": "resnet50"}, no_tensors)
    for path, problem in [
        (truncated, "not a readable PyTorch checkpoint"),
        (text, "not a readable PyTorch checkpoint"),
        (unsafe, "weights_only"),
        (no_tensors, "non-tensor entries: arch, epoch"),
        (tmp_path / "absent.pth", "does not exist"),
    ]:
        with pytest.raises(CheckpointFormatError, match=problem):
            load_state_dict(path)


def test_legacy_densenet_keys_of_the_published_files_load_strictly_through_load_pretrained(
    mirror: LocalMirror, tmp_path: Path
) -> None:
    """The paper's DenseNet files name dense-layer tensors `norm.1` (pre-1.0 torchvision); they still load."""
    reference = antialiased_cnns.densenet121(filter_size=4)
    legacy = {
        key.replace(".norm1.", ".norm.1.").replace(".conv1.", ".conv.1.").replace(".norm2.", ".norm.2."): value
        for key, value in reference.state_dict().items()
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    path = save_checkpoint(legacy, tmp_path, "my_densenet121_lpf4")
    model = load_pretrained_as(mirror.serve(path), arch="densenet121", filter_size=4)
    assert torch.equal(
        model.state_dict()["features.denseblock1.denselayer1.norm1.weight"],
        legacy["features.denseblock1.denselayer1.norm.1.weight"],
    )


def _resnet18_with_a_densenet_like_head() -> torch.nn.Module:
    """A user's resnet18 whose extra module's keys look like legacy DenseNet keys (`denselayer1.norm.1.*`)."""
    model = create_model("resnet18", 4)
    model.denselayer1 = torch.nn.Module()
    model.denselayer1.norm = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm2d(8))
    return model


def test_densenet_key_hook_runs_only_for_densenet_checkpoints(tmp_path: Path) -> None:
    model = _resnet18_with_a_densenet_like_head()
    torch.nn.init.uniform_(model.denselayer1.norm[1].weight)
    path = save_checkpoint(model, tmp_path, "resnet18_with_head")
    assert "denselayer1.norm.1.weight" in load_state_dict(path)

    for arch in ("resnet18", None):  # a zoo resnet, and a model named by no architecture
        loaded = load_weights(_resnet18_with_a_densenet_like_head(), path, arch=arch)
        assert torch.equal(loaded.denselayer1.norm[1].weight, model.denselayer1.norm[1].weight)
    # Read as a DenseNet checkpoint, the same keys are renamed: proof that the hook is chosen by architecture.
    with pytest.raises(ArchitectureMismatchError, match=r"unexpected: denselayer1\.norm1\.weight"):
        load_weights(_resnet18_with_a_densenet_like_head(), path, arch="densenet121")


def test_legacy_densenet_keys_are_not_renamed_without_the_architecture() -> None:
    state = create_model("densenet121", 4).state_dict()
    legacy = {key.replace(".norm1.", ".norm.1."): value for key, value in state.items()}
    with pytest.raises(ArchitectureMismatchError, match=r"unexpected: features\.denseblock1\.denselayer1\.norm\.1\."):
        load_weights(create_model("densenet121", 4), legacy)
    loaded = load_weights(create_model("densenet121", 4), legacy, arch="densenet121")
    assert torch.equal(
        loaded.state_dict()["features.denseblock1.denselayer1.norm1.weight"],
        state["features.denseblock1.denselayer1.norm1.weight"],
    )
