"""Networks served from exported programs through a real TorchServe, without their source code: an antialiased timm
network (ImageNet's classes) and a small network of the tests' own module (3 classes of its own), each exported by
`python -m antialiased.export`, archived by `archives.build` from its registry entry and served, answer what the
in-process network answers (probabilities within 1e-5 of the same preprocessed views), for plain and shift requests,
with the model's class names."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import timm
import torch
import yaml

from antialiased.antialiasing import antialias
from antialiased.evaluate.cli import main as evaluate_main
from antialiased.evaluate.store import IMAGES_FILE, RESULTS_FILE
from antialiased.export.cli import main as export_main
from antialiased.shifts import ShiftRequest
from antialiased.weights import load_weights, save_checkpoint
from antialiased.weights.registry import REGISTRY_ENV
from archives.build import build_archives
from launcher.torchserve import TorchServe, start_torchserve
from tests.support.datasets import write_colour_folder
from tests.support.models.small_cnn import antialiased_small_cnn
from tests.support.programs import COLOURS, export_small
from tests.support.served_models import READY_TIMEOUT_S, TEST_OVERRIDES
from tests.support.serving import encode, photo, reference_probabilities

pytestmark = [pytest.mark.serving, pytest.mark.slow]

TIMM_ARCH = "resnet18d"  # timm's ResNet-D (deep stem, average-pool shortcut): not a zoo architecture
TIMM_MODEL, SMALL_MODEL = "timm_lpf", "small"
TOLERANCE = 1e-5
SHIFTS = (
    ShiftRequest(offsets=((0, 0), (3, 1), (16, 16), (31, 0)), mode="crop"),
    ShiftRequest(offsets=((0, 0), (-5, 7), (40, -2)), mode="circular"),
    ShiftRequest(offsets=((0.5, 0.25), (1, 1)), mode="crop", method="bilinear"),
)


def _timm_network() -> torch.nn.Module:
    return antialias(timm.create_model(TIMM_ARCH), 4).model


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, torch.nn.Module]]]:
    """Both networks exported into one folder; the registry variable set; the in-process networks."""
    folder = tmp_path_factory.mktemp("exported")
    small_weights, registry = export_small(folder, SMALL_MODEL)
    torch.manual_seed(0)
    timm_weights = save_checkpoint(_timm_network(), folder, "timm_random")
    status = export_main(["--model", f"timm:{TIMM_ARCH}", "--weights", str(timm_weights), "--filter-size", "4",
                          "--out", str(registry.parent), "--name", TIMM_MODEL])  # fmt: skip
    assert status == 0
    networks = {
        TIMM_MODEL: load_weights(_timm_network(), timm_weights).eval(),
        SMALL_MODEL: load_weights(antialiased_small_cnn(), small_weights).eval(),
    }
    os.environ[REGISTRY_ENV] = str(registry)
    try:
        yield registry, networks
    finally:
        del os.environ[REGISTRY_ENV]


@pytest.fixture(scope="module")
def store(exported, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("store")
    models = {TIMM_MODEL: TIMM_MODEL, SMALL_MODEL: SMALL_MODEL}
    cache = tmp_path_factory.mktemp("cache")
    build_archives(store, models, weights_dir=cache, overrides=TEST_OVERRIDES, progress=False)
    return store


@pytest.fixture(scope="module")
def served(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    workdir = tmp_path_factory.mktemp("torchserve")
    server = start_torchserve(store, [TIMM_MODEL, SMALL_MODEL], workdir, log_file=workdir / "torchserve.out")
    try:
        server.wait_until_ready(READY_TIMEOUT_S)
        yield server
    finally:
        server.stop()


def test_the_archives_hold_programs_and_no_source(store: Path) -> None:
    with zipfile.ZipFile(store / f"{SMALL_MODEL}.mar") as archive:
        names = archive.namelist()
        config = yaml.safe_load(archive.read("model-config.yaml"))
        assert json.loads(archive.read("labels.json")) == list(COLOURS)
    model = config["handler"]["model"]
    assert model["format"] == "pt2" and model["builder"] is None and model["num_classes"] == 3
    assert model["labels"] == "labels.json"
    assert not [name for name in names if "small_cnn" in name or name.startswith("tests/")], names


@pytest.mark.parametrize("model", [TIMM_MODEL, SMALL_MODEL])
def test_plain_requests_answer_what_the_network_answers(served: TorchServe, exported, model: str) -> None:
    network = exported[1][model]
    for name in ("chelsea", "rocket"):
        image = encode(photo(name))
        response = served.predict(model, image, probabilities="true", topk="5")
        assert response.status_code == 200, response.text
        answer = response.json()
        expected = reference_probabilities(network, image)[0]
        assert len(answer["probabilities"]) == expected.numel() == answer["model"]["num_classes"]
        assert max(abs(a - b) for a, b in zip(answer["probabilities"], expected.tolist(), strict=True)) <= TOLERANCE
        assert [t["index"] for t in answer["topk"]] == expected.topk(min(5, expected.numel())).indices.tolist()


@pytest.mark.parametrize("model", [TIMM_MODEL, SMALL_MODEL])
@pytest.mark.parametrize("request_", SHIFTS, ids=["crop", "circular", "subpixel"])
def test_shift_requests_answer_what_the_network_answers(served: TorchServe, exported, model: str, request_) -> None:
    image = encode(photo("astronaut"))
    response = served.predict(model, image, shifts=json.dumps(request_.to_json()), topk="3")
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = reference_probabilities(exported[1][model], image, request_)
    for row, entry in enumerate(answer["shifts"]):
        for top in entry["topk"]:
            assert abs(top["probability"] - expected[row, top["index"]].item()) <= TOLERANCE
    for index, curve in answer["class_probabilities"].items():
        assert curve == pytest.approx(expected[:, int(index)].tolist(), abs=TOLERANCE)


def test_the_endpoint_evaluation_maps_folders_by_the_served_names(served: TorchServe, tmp_path: Path, capsys) -> None:
    """Folders red/ green/ blue/ (not in a label map, not synsets) are the served model's classes by name."""
    data = write_colour_folder(tmp_path / "colours", images_per_class=2, wrong=(0, 0, 0), folders=COLOURS)
    options = ["--measure", "accuracy", "--workers", "0", "--quiet", "--data", str(data)]
    assert evaluate_main(["--endpoint", served.inference_url, "--model", SMALL_MODEL, "--out", str(tmp_path / "out"),
                          *options]) == 0  # fmt: skip
    results = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert results["dataset"]["evaluated"] == 6 and not results["dataset"]["skipped_folders"], results["dataset"]
    rows = pq.read_table(tmp_path / "out" / IMAGES_FILE).to_pylist()
    assert {(row["relpath"].split("/")[0], row["label"]) for row in rows} == {(c, i) for i, c in enumerate(COLOURS)}


def test_the_small_model_answers_with_its_own_classes(served: TorchServe) -> None:
    image = encode(photo("coffee"))
    answer = served.predict(SMALL_MODEL, image, topk="20", labels="true").json()
    assert sorted(top["label"] for top in answer["topk"]) == sorted(COLOURS), "topk clamped to the 3 classes"
    assert answer["labels"] == [{"name": name, "id": None} for name in COLOURS]
    timm_answer = served.predict(TIMM_MODEL, image).json()
    assert timm_answer["model"] == {**timm_answer["model"], "arch": f"timm:{TIMM_ARCH}", "num_classes": 1000}
