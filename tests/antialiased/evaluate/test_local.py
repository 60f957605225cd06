"""The local engine through the command line: figures of predictable models, bad inputs, outputs a person uses."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pytest
from PIL import Image

from antialiased.evaluate.cli import main
from antialiased.models import create_model
from antialiased.weights import REGISTRY_ENV, save_checkpoint, sha256_file
from tests.support.datasets import COLOUR_IMAGES_PER_CLASS, assert_same_rows, expected_colour_accuracy


def test_content_model_scores_the_hand_computed_accuracy(run_cli: Callable, colour_folder: Path, model_specs) -> None:
    run = run_cli("--data", str(colour_folder), "--model", model_specs["colour"], "--measure", "consistency,diagonal")
    figures = run["results"]["models"][0]["figures"]
    assert figures["top1"]["value"] == pytest.approx(expected_colour_accuracy())  # 50 of 60 by construction
    assert figures["top5"]["value"] == 100.0, "the three colour classes are always in the top 5"
    assert figures["consistency"]["value"] == 100.0, "a uniform colour looks the same in every window"
    assert figures["diagonal_top1"]["value"] == pytest.approx(expected_colour_accuracy())
    assert run["results"]["dataset"]["evaluated"] == 3 * COLOUR_IMAGES_PER_CLASS
    per_class = {c["label"]: c["top1"]["value"] for c in run["results"]["models"][0]["per_class"]}
    assert sorted(per_class.values()) == pytest.approx([75.0, 85.0, 90.0])  # 5, 3 and 2 of 20 have another colour


def test_circular_invariant_model_is_fully_circular_consistent(run_cli, photo_folder: Path, model_specs) -> None:
    run = run_cli(
        "--data", str(photo_folder), "--limit", "40", "--model", model_specs["circular"],
        "--model", model_specs["tiny"], "--measure", "circular", "--epochs-shift", "3",
    )  # fmt: skip
    circular, tiny = (m["figures"]["circular_consistency"] for m in run["results"]["models"])
    assert circular["value"] == 100.0
    assert tiny["value"] < 100.0, "a strided CNN is not invariant to circular shifts"


def test_per_image_results_do_not_depend_on_batch_size_or_workers(run_cli, photo_folder, model_specs, tmp_path) -> None:
    common = ["--data", str(photo_folder), "--limit", "30", "--model", model_specs["tiny"], "--measure",
              "consistency,circular", "--shard-size", "7"]  # fmt: skip
    a = run_cli(*common, "--batch-size", "3", "--workers", "0", out=tmp_path / "a")
    b = run_cli(*common, "--batch-size", "8", "--workers", "2", "--max-views", "5", out=tmp_path / "b")
    assert_same_rows(a["images"], b["images"])
    assert 0 < a["results"]["models"][0]["figures"]["consistency"]["value"] < 100


def test_unreadable_images_are_counted_and_listed(run_cli, colour_folder: Path, model_specs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(colour_folder, data)
    folder = next(data.iterdir())
    (folder / "text.jpg").write_text("not an image")
    (folder / "truncated.png").write_bytes((next(folder.glob("*.png"))).read_bytes()[:200])
    Image.new("RGB", (10, 10)).save(folder / "tiny.png")
    run = run_cli("--data", str(data), "--model", model_specs["colour"])
    dataset = run["results"]["dataset"]
    assert dataset["images"] == 63 and dataset["evaluated"] == 60
    errors = {u["relpath"].split("/")[-1]: u["error"] for u in dataset["unreadable"]}
    assert errors.keys() == {"text.jpg", "truncated.png", "tiny.png"}
    assert errors["tiny.png"].startswith("image_too_small") and errors["text.jpg"].startswith("invalid_image")
    assert run["results"]["models"][0]["figures"]["top1"]["value"] == pytest.approx(expected_colour_accuracy())
    failed = run["images"].filter(pc.invert(pc.is_null(run["images"].column("error"))))
    assert failed.num_rows == 3 and failed.column("top1").null_count == 3
    assert "truncated.png" in (run["out"] / "report.html").read_text()


def test_outputs_hold_models_fingerprint_per_image_table_and_plots(run_cli, photo_folder, model_specs) -> None:
    run = run_cli(
        "--data", str(photo_folder), "--limit", "25", "--model", model_specs["tiny"],
        "--model", model_specs["circular"], "--measure", "consistency,diagonal", "--epochs-shift", "2",
    )  # fmt: skip
    results, images, out = run["results"], run["images"], run["out"]
    assert results["complete"] is True
    checkpoint = Path(model_specs["tiny"].split(":")[0])
    assert results["models"][0]["sha256"] == sha256_file(checkpoint)
    assert results["dataset"]["fingerprint"]["files"] == 25 and len(results["dataset"]["fingerprint"]["sha256"]) == 64
    assert {"torch", "torchvision", "python"} <= results["versions"].keys()
    assert results["protocol"]["mode"] == "per-image" and results["protocol"]["epochs_shift"] == 2
    assert len(results["comparisons"]) == 1 and "consistency" in results["comparisons"][0]["differences"]
    assert len(results["models"][0]["diagonal"]["p_true"]) == 33
    assert results["models"][0]["least_consistent_classes"], "the least consistent classes are listed"
    assert images.num_rows == 2 * 25 and set(images.column("model").to_pylist()) == {
        m["name"] for m in results["models"]
    }
    assert len(images.column("shift_agree")[0]) == 2 and len(images.column("diag_p_true")[0]) == 33
    assert images.column("relpath")[0].as_py().startswith("n0"), "rows join across runs on the relative path"
    for name in ("accuracy_consistency.png", "diagonal.png"):
        with Image.open(out / name) as png:
            assert png.format == "PNG" and png.width > 400
    assert not list(out.rglob("*.partial")), "no temporary file is left"


def test_registry_name_is_fetched_verified_and_evaluated(run_cli, colour_folder, tmp_path, monkeypatch) -> None:
    """A registry entry of your own (file:// URL, no internet) is hash-checked and used where it is (not copied)."""
    checkpoint = save_checkpoint(create_model("resnet18", 2), tmp_path / "published", "my_resnet18")
    registry = tmp_path / "registry.json"
    entry = {"name": "my_resnet18", "url": checkpoint.as_uri(), "sha256_prefix": checkpoint.stem.split("-")[-1],
             "arch": "resnet18", "filter_size": 2}  # fmt: skip
    registry.write_text(json.dumps([entry]))
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    monkeypatch.setenv("ANTIALIASED_CACHE_DIR", str(tmp_path / "cache"))
    run = run_cli("--data", str(colour_folder), "--limit", "4", "--model", "my_resnet18", "--measure", "accuracy")
    model = run["results"]["models"][0]
    assert (model["name"], model["arch"], model["filter_size"]) == ("my_resnet18", "resnet18", 2)
    assert model["sha256"] == sha256_file(checkpoint) and not (tmp_path / "cache" / checkpoint.name).exists()


def test_bad_command_lines_are_clear_errors(run_cli, colour_folder, model_specs, tmp_path, capsys) -> None:
    data = ["--data", str(colour_folder)]
    cases = [
        ([*data, "--model", "resnet50_lpf4_finetun"], "did you mean resnet50_lpf4_finetune"),
        ([*data, "--model", f"{tmp_path}/missing.pth:resnet50:4"], "does not exist"),
        ([*data, "--model", f"{model_specs['tiny'].split(':')[0]}:resnet50:9"], "not in 1..7"),
        ([*data, "--model", f"{model_specs['tiny'].split(':')[0]}:resnet50:4"], "does not fit"),
        ([*data, "--model", f"{model_specs['tiny'].split(':')[0]}:no_such_module:Net"], "cannot import"),
        (data, "no model to evaluate"),
        ([*data, "--model", model_specs["tiny"], "--measure", "speed"], "unknown measure"),
        ([*data, "--model", model_specs["tiny"], "--precision", "bfloat16", "--device", "cpu"], "needs a GPU"),
        (["--data", str(tmp_path / "nothing"), "--model", model_specs["tiny"]], "not a directory"),
    ]
    for args, message in cases:
        run_cli(*args, expect_status=2)
        assert message in capsys.readouterr().err, message


def test_labels_beyond_the_models_classes_are_refused(colour_folder, model_specs, tmp_path, capsys) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({p.name: 1500 + i for i, p in enumerate(sorted(colour_folder.iterdir()))}))
    status = main(["--data", str(colour_folder), "--labels", str(labels), "--model", model_specs["tiny"],
                   "--out", str(tmp_path / "run"), "--quiet"])  # fmt: skip
    assert status == 2
    assert "outputs 1000 classes, but the labels go up to class index 1502" in capsys.readouterr().err


def test_a_directory_holding_another_run_is_not_overwritten(run_cli, colour_folder, model_specs, tmp_path, capsys):
    out = tmp_path / "run"
    run_cli("--data", str(colour_folder), "--limit", "6", "--model", model_specs["colour"], out=out)
    run_cli("--data", str(colour_folder), "--limit", "6", "--model", model_specs["tiny"], out=out, expect_status=2)
    assert "holds a run of other settings (models differ)" in capsys.readouterr().err
    run = run_cli("--data", str(colour_folder), "--limit", "6", "--model", model_specs["tiny"], "--overwrite", out=out)
    assert [m["name"] for m in run["results"]["models"]] == ["tiny-" + model_specs["tiny"].split("tiny-")[1][:8]]


def test_a_densenet_checkpoint_with_legacy_keys_is_evaluated(run_cli, colour_folder, tmp_path) -> None:
    """The paper's DenseNet files name dense-layer tensors `norm.1`; a checkpoint path with its architecture loads."""
    state = create_model("densenet121", 4).state_dict()
    legacy = {key.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): value for key, value in state.items()}
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    checkpoint = save_checkpoint(legacy, tmp_path, "legacy_densenet121")
    run = run_cli("--data", str(colour_folder), "--limit", "2", "--model", f"{checkpoint}:densenet121:4",
                  "--measure", "accuracy")  # fmt: skip
    assert run["results"]["models"][0]["arch"] == "densenet121"


@pytest.mark.filterwarnings("error")  # and no numpy warning about empty means on the way
def test_a_data_set_without_one_readable_image_gives_unknown_figures(run_cli, tmp_path, model_specs, capsys) -> None:
    folder = tmp_path / "data" / "n01440764"
    folder.mkdir(parents=True)
    (folder / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    run = run_cli("--data", str(tmp_path / "data"), "--model", model_specs["tiny"])
    assert run["results"]["dataset"]["evaluated"] == 0
    assert run["results"]["models"][0]["figures"]["top1"]["value"] is None
