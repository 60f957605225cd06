"""The evaluation of a folder of frame sequences (`--sequences DIR`, the sequence measure): each sequence scored as
`antialiased.probe_sequence` scores the same frames, the means over the sequences with their intervals and the
paired differences, the report's flip-rate table, a hostile folder's sequences skipped and listed, bad input
refused with a message; and docs/evaluation.md's command, from the page's own text."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from antialiased.evaluate.model_specs import load_model, parse_model_spec
from antialiased.evaluate.statistics import mean_estimate, paired_difference
from antialiased.local_probe import probe_sequence
from antialiased.models import create_model
from antialiased.weights import save_checkpoint
from tests.support.datasets import assert_same_rows, write_image, write_sequence_folder
from tests.support.docs_commands import ROOT, RUN, commands_matching

METRICS = ("frames", "flip_rate", "mean_top5_distance", "majority_class", "majority_share")


@pytest.fixture(scope="module")
def sequences(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sequence_folder(tmp_path_factory.mktemp("sequences") / "clips")


def test_each_sequence_is_scored_as_probe_sequence_scores_its_frames(run_cli, model_specs, sequences) -> None:
    specs = [model_specs["tiny"], model_specs["colour"]]
    run = run_cli("--sequences", str(sequences), "--model", specs[0], "--model", specs[1], "--workers", "0")
    results = run["results"]
    assert results["protocol"]["measures"] == ["sequence"] and results["dataset"]["kind"] == "sequences"
    assert results["dataset"]["evaluated"] == 4 and results["dataset"]["unit"] == "sequences"
    folders = sorted(sequences.iterdir())
    for spec, model in zip(specs, results["models"], strict=True):
        network = load_model(parse_model_spec(spec)).network
        assert [s["name"] for s in model["sequences"]] == [folder.name for folder in folders]
        for folder, scored in zip(folders, model["sequences"], strict=True):
            expected = probe_sequence(network, sorted(folder.iterdir())).metrics
            assert {k: scored[k] for k in METRICS} == {k: getattr(expected, k) for k in METRICS}, folder.name
            assert scored["wobble"] == pytest.approx(expected.wobble, abs=1e-6)
        # The means over the sequences, with the evaluation's intervals: the flip rate and wobble in percent
        for figure, percent in (("flip_rate", True), ("mean_top5_distance", False), ("wobble", True)):
            values = np.array([s[figure] for s in model["sequences"]])
            assert model["figures"][figure] == mean_estimate(values, percent=percent).to_json(), figure
        assert model["per_class"] == [] and model["images"] == 4
    (comparison,) = results["comparisons"]
    a, b = ({s["name"]: s for s in m["sequences"]} for m in results["models"])
    for figure, percent in (("flip_rate", True), ("mean_top5_distance", False)):
        expected = paired_difference(
            np.array([a[n][figure] for n in a]), np.array([b[n][figure] for n in a]), percent=percent
        )
        assert {k: v for k, v in comparison["differences"][figure].items() if k != "significant"} == expected.to_json()
    table = run["images"]
    assert table.column("label").null_count == table.num_rows and table.column("seq_top1").to_pylist()[0]
    # --data DIR --measure sequence is the same run
    same = run_cli("--data", str(sequences), "--measure", "sequence", "--model", specs[0], "--model", specs[1],
                   "--workers", "0", out=run["out"].parent / "same")  # fmt: skip
    assert_same_rows(same["images"], table)


def test_the_intervals_of_sequence_figures() -> None:
    """A flip rate of 0/1 per sequence (two frames) has Wilson's interval; top-5 distances (0-15) are not in percent,
    their normal interval never below 0."""
    flips = mean_estimate(np.array([0.0, 1.0, 0.0, 0.0]))
    assert flips.value == 25.0 and 0 < flips.low < 25 < flips.high < 100
    distances = np.array([0.0, 2.0, 4.0, 6.0])
    estimate = mean_estimate(distances, percent=False)
    half = 1.959963984540054 * distances.std(ddof=1) / 2
    assert (estimate.value, estimate.high) == (3.0, pytest.approx(3.0 + half))
    assert estimate.low == pytest.approx(max(0.0, 3.0 - half))
    assert mean_estimate(np.array([0.0, 0.0, 0.5]), percent=False).low == 0.0
    difference = paired_difference(distances, distances / 2, percent=False)
    assert difference.value == 1.5 and math.isclose(difference.high - difference.value, half / 2)


def test_the_report_has_a_flip_rate_table(run_cli, model_specs, sequences) -> None:
    run = run_cli("--sequences", str(sequences), "--model", model_specs["tiny"], "--workers", "0")
    report = (run["out"] / "report.html").read_text()
    (model,) = run["results"]["models"]
    assert "Sequences: flip rate from frame to frame" in report and 'class="sequences"' in report
    for scored in model["sequences"]:
        row = f'<span class="text">{scored["name"]}</span></td><td>{scored["frames"]}</td><td>'
        assert f"{row}{100 * scored['flip_rate']:.1f}</td>" in report
    assert "flip rate (consecutive frames)" in report and "Classes:" not in report and "<h2>Plots" not in report
    assert not (run["out"] / "accuracy_consistency.png").exists()


def test_a_hostile_folder_is_scored_and_what_was_left_out_is_listed(run_cli, model_specs, sequences, tmp_path) -> None:
    root = tmp_path / "hostile"
    shutil.copytree(sequences / "seq_00", root / "good")
    shutil.copytree(sequences / "seq_01", root / "nested")
    shutil.copytree(sequences / "seq_02", root / "broken")
    (root / "broken" / "01.jpg").write_bytes(b"\xff\xd8\xff not a JPEG")
    shutil.copytree(sequences / "seq_03", root / "pipe")
    os.mkfifo(root / "pipe" / "01b.png")
    (root / "empty").mkdir()
    write_image(root / "single" / "00.png")
    os.symlink(".", root / "loop")
    os.symlink("good", root / "second")
    (root / "nested" / "inner").mkdir()
    write_image(root / "nested" / "inner" / "x.png")
    (root / "loose.png").write_bytes((sequences / "seq_00" / "00.png").read_bytes())
    run = run_cli("--sequences", str(root), "--model", model_specs["tiny"], "--workers", "0")
    dataset = run["results"]["dataset"]
    assert dataset["evaluated"] == 2 and dataset["images"] == 3  # good, nested; broken is unreadable
    assert [s["name"] for s in run["results"]["models"][0]["sequences"]] == ["good", "nested"]
    (bad,) = dataset["unreadable"]
    assert bad["relpath"] == "broken" and bad["error"].startswith("frame 1 (01.jpg): ")
    reasons = {s["name"]: s["reason"] for s in dataset["skipped_folders"]}
    assert reasons.keys() == {"empty", "single", "loop", "second", "pipe"}
    assert reasons["empty"].startswith("empty") and reasons["single"].startswith("one frame")
    assert "a link cycle" in reasons["loop"] and "a link cycle" in reasons["second"]
    assert "pipe/01b.png: not a regular file: a FIFO" in reasons["pipe"] and "consecutive" in reasons["pipe"]
    assert {s["name"] for s in dataset["skipped_files"]} == {"loop", "second", "pipe/01b.png", "nested/inner"}
    report = (run["out"] / "report.html").read_text()
    assert "skipped-folders" in report and "skipped-files" in report and "unreadable" in report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "map.json"], "sequences need no labels"),
        (["--measure", "consistency"], "leave out --measure"),
        (["--engine", "ray"], "the ray engine does not score sequences"),
    ],
)
def test_bad_input_is_refused_with_a_message(run_cli, model_specs, sequences, capsys, args, message) -> None:
    run_cli("--sequences", str(sequences), "--model", model_specs["tiny"], *args, expect_status=2)
    assert message in capsys.readouterr().err


def test_bad_folders_and_mixed_measures_are_refused(run_cli, model_specs, sequences, tmp_path, capsys) -> None:
    flat = tmp_path / "flat"
    write_image(flat / "00.png")
    write_image(flat / "01.png")
    empty = tmp_path / "none"
    (empty / "a").mkdir(parents=True)
    model = ["--model", model_specs["tiny"]]
    for args, message in (
        (["--sequences", str(tmp_path / "missing")], "is not a directory"),
        (["--sequences", str(flat)], "holds no sequence folders"),
        (["--sequences", str(empty)], "no sequence of"),
        (["--data", str(sequences), "--measure", "sequence,consistency"], "the sequence measure is measured alone"),
        (["--data", str(sequences), "--layout", "folders"], "--layout says how a folder of sequences is laid out"),
    ):
        run_cli(*args, *model, expect_status=2)
        assert message in capsys.readouterr().err, args


def test_the_docs_sequence_command(tmp_path: Path) -> None:
    """docs/evaluation.md's command on two short sequences and a random antialiased resnet18 (`my.pth`)."""
    (pattern,) = [p for p, test in RUN.items() if test.endswith("::test_the_docs_sequence_command")]
    (command,) = commands_matching(pattern)
    write_sequence_folder(tmp_path / "sequences", sequences=2, frames=3)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(create_model("resnet18", filter_size=4), tmp_path, "mine")
    text = command.text.replace(".venv/bin/python", sys.executable).replace("my.pth", str(checkpoint))
    text = text.replace("path/to/sequences", str(tmp_path / "sequences"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-c", text], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{text}\n{done.stderr[-3000:]}"
    assert "2 sequences evaluated" in done.stdout and (tmp_path / "build/evaluation/report.html").is_file()
