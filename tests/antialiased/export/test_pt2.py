"""`python -m antialiased.export --format pt2`: a network of the tests' own module, antialiased, becomes a program
that computes what the network computes (probabilities within 1e-5, any batch size, other image sizes), loads by
its registry name without the module, and carries its label set; what cannot be exported is refused on one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from antialiased.export.cli import main as export_main
from antialiased.weights import load_pretrained, load_weights
from antialiased.weights.registry import REGISTRY_ENV, get_entry
from tests.support.models.small_cnn import antialiased_small_cnn
from tests.support.programs import COLOURS, SMALL_BUILDER, export_small, program_file, small_checkpoint, write_classes

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return export_small(tmp_path_factory.mktemp("export"))


def test_the_program_computes_what_the_network_computes(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint, registry = exported
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    network = load_weights(antialiased_small_cnn(), checkpoint).eval()
    program = load_pretrained("small")
    generator = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for shape in [(1, 3, 224, 224), (5, 3, 224, 224), (3, 3, 96, 160)]:
            batch = torch.randn(*shape, generator=generator)
            expected, got = network(batch).softmax(dim=1), program(batch).softmax(dim=1)
            assert (got - expected).abs().max().item() <= 1e-5, shape


def test_the_entry_carries_the_label_set(exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, registry = exported
    (record,) = json.loads(registry.read_text())
    assert record["format"] == "pt2" and record["num_classes"] == 3
    assert not Path(record["url"]).is_absolute() and not Path(record["labels"]).is_absolute(), "the folder can move"
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    entry = get_entry("small")
    assert entry.label_set.names == COLOURS and entry.classes == 3 and entry.arch == SMALL_BUILDER


def test_it_loads_without_the_module(exported: tuple[Path, Path]) -> None:
    """In a process where the tests' package cannot be imported, the program still loads and runs."""
    _, registry = exported
    code = (
        "import sys; sys.modules['tests'] = None\n"
        "import torch; from antialiased.weights.program import program_module\n"
        f"module, classes = program_module({str(program_file(registry, 'small'))!r})\n"
        "print(classes, tuple(module(torch.zeros(2, 3, 64, 64)).shape))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3", "(2,", "3)"]


def test_a_registered_program_is_exported_again(exported: tuple[Path, Path], monkeypatch, tmp_path: Path) -> None:
    """A registry name of a program (an export, or a fine-tuning output outside the zoo) exports as it is, with its
    label set."""
    _, registry = exported
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    assert export_main(["--model", "small", "--out", str(tmp_path), "--name", "again"]) == 0
    first = load_pretrained("small")
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "registry.json"))
    assert get_entry("again").label_set.names == COLOURS
    batch = torch.randn(2, 3, 80, 64)
    with torch.inference_mode():
        assert torch.equal(load_pretrained("again")(batch), first(batch))


def test_the_program_leaks_no_path_of_this_machine(exported: tuple[Path, Path]) -> None:
    assert str(ROOT).encode() not in program_file(exported[1], "small").read_bytes()


def _error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    assert export_main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    return error


def test_classes_other_than_imagenet_need_their_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = f"{small_checkpoint(tmp_path)}:{SMALL_BUILDER}"
    out = ["--out", str(tmp_path / "out"), "--name", "small"]
    error = _error(["--model", model, *out], capsys)
    assert "outputs 3 classes, not ImageNet's 1000: name them with --classes" in error
    two = write_classes(tmp_path / "two.json", ["red", "green"])
    error = _error(["--model", model, "--classes", str(two), *out], capsys)
    assert "outputs 3 classes, but its label set names 2" in error
    twice = write_classes(tmp_path / "twice.json", ["red", "green", "red"])
    error = _error(["--model", model, "--classes", str(twice), *out], capsys)
    assert "classes 0 and 2 have the same name 'red'" in error
    assert not (tmp_path / "out").exists(), "nothing written"


def test_bad_specs_and_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = ["--out", str(tmp_path / "out")]
    assert "give its weights with --weights" in _error(["--model", "timm:resnet10t", *out, "--name", "x"], capsys)
    assert "published checkpoint's name" in _error(["--model", "x", *out, "--name", "resnet50_lpf4"], capsys)
    assert "not a registry name nor a torchvision" in _error(["--model", "resnet5O", "--weights", "w", *out,
                                                               "--name", "x"], capsys)  # fmt: skip


class DataDependent(torch.nn.Module):
    """A network whose forward pass branches on its input's values: torch.export cannot capture it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))
        return self.fc(pooled) if pooled.sum() > 0 else -self.fc(pooled)


def data_dependent() -> torch.nn.Module:
    return DataDependent()


def test_a_network_torch_export_cannot_capture_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from antialiased.weights import save_checkpoint

    checkpoint = save_checkpoint(DataDependent(), tmp_path, "branching")
    model = f"{checkpoint}:tests.antialiased.export.test_pt2:data_dependent"
    error = _error(["--model", model, "--out", str(tmp_path / "out"), "--name", "branching"], capsys)
    assert "torch.export cannot export branching" in error and "docs/export.md" in error
