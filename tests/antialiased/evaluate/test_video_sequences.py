"""Videos in the evaluation: evaluating the translate sequences `python -m antialiased.sequences make` writes gives what
evaluating the same frames decoded to folders gives; ImageNet-P's layout (perturbation folders, noise difficulty
folders) gives each perturbation's figures at each difficulty, mFR and mT5D against an AlexNet (a stand-in checkpoint
named alexnet_baseline: no weights are downloaded here) or against an earlier run's figures, with the leaderboard
printed beside them, marked published."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

from antialiased.datasets import DataError
from antialiased.evaluate.model_specs import load_model, parse_model_spec
from antialiased.evaluate.perturbations import alexnet_figures
from antialiased.evaluate.statistics import mean_estimate
from antialiased.evaluate.store import SESSIONS_FILE
from antialiased.inference import prepare_for_inference, to_model_input
from antialiased.models import create_model
from antialiased.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from antialiased.sequences.imagenet_p import LEADERBOARD, normalised_mean, video_figures
from antialiased.transforms import preprocess
from antialiased.weights import save_checkpoint
from tests.support.datasets import write_photo_folder
from tests.support.docs_commands import ROOT, RUN, commands_matching
from tests.support.eval_models import TinyStridedNet
from tests.support.videos import decoded

# ImageNet-P's test.py: each decoded frame through trn.Compose([trn.ToTensor(), trn.Normalize(mean, std)])
TEST_PY = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
SEQUENCE_COLUMNS = ("seq_frames", "seq_top1", "seq_flip_rate", "seq_top5_distance", "seq_difficulty",
                    "seq_flip_probability", "seq_top5")  # fmt: skip


def test_the_videos_evaluate_as_the_same_frames_decoded_to_folders(made, run_cli, model_specs, tmp_path) -> None:
    _, out = made
    frames_root = tmp_path / "frames"
    videos = sorted((out / "translate").rglob("*.mp4"))
    for video in videos:
        for k, pixels in enumerate(decoded(video)):
            folder = frames_root / f"{video.parent.name}_{video.stem}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / f"{k:02d}.png")
    spec = ["--model", model_specs["tiny"], "--workers", "0"]
    as_videos = run_cli("--sequences", str(out / "translate"), *spec, out=tmp_path / "videos")
    as_frames = run_cli("--sequences", str(frames_root), *spec, out=tmp_path / "folders")
    assert (
        as_videos["results"]["dataset"]["kind"] == "videos" and as_frames["results"]["dataset"]["kind"] == "sequences"
    )
    a, b = as_videos["images"], as_frames["images"]
    assert a.num_rows == b.num_rows == len(videos)
    for column in SEQUENCE_COLUMNS:
        assert a.column(column).to_pylist() == b.column(column).to_pylist(), column
    np.testing.assert_allclose(np.array(a.column("seq_zipf").to_pylist()), np.array(b.column("seq_zipf").to_pylist()))
    assert set(a.column("seq_perturbation").to_pylist()) == {"translate"}, "the folder's name says which perturbation"
    (model_a,), (model_b,) = as_videos["results"]["models"], as_frames["results"]["models"]
    assert model_a["figures"] == model_b["figures"]
    # The views classified (the progress bar's views/s, the session log): every frame used, of a video as of a folder
    for run in (as_videos, as_frames):
        end = [json.loads(line) for line in (run["out"] / SESSIONS_FILE).read_text().splitlines()][-1]
        assert end["views"] == sum(a.column("seq_frames").to_pylist()) == 9 * len(videos), run["out"]


@pytest.fixture
def imagenet_p(made, tmp_path) -> Path:
    """ImageNet-P's layout: translate, gaussian_noise and gaussian_noise_2 (the same videos), and a stray folder (so
    read with --layout imagenet-p)."""
    _, out = made
    root = tmp_path / "ImageNet-P"
    for folder in ("translate", "gaussian_noise", "gaussian_noise_2"):
        shutil.copytree(out / "translate", root / folder)
    (root / "notes").mkdir()
    return root


def _logits(spec: str, video: Path, transform: Callable[[Image.Image], torch.Tensor] = TEST_PY) -> np.ndarray:
    """The logits of a video's decoded frames, each through `transform` (by default ImageNet-P's test.py's), in one
    forward pass of the model as the local engine prepares it (on the CPU: folded batch norm, channels_last)."""
    network = prepare_for_inference(load_model(parse_model_spec(spec)).network, "cpu")
    views = torch.stack([transform(Image.fromarray(frame)) for frame in decoded(video)])
    with torch.no_grad():
        return network(to_model_input(views)).double().numpy()


def test_imagenet_p_frames_go_in_as_its_test_py_feeds_them(made, run_cli, model_specs) -> None:
    """ImageNet-P's 224 x 224 frames: the evaluation's per-video results are those of a loop that feeds the decoded
    frames through test.py's transform (ToTensor, Normalize: no resize, no crop) into the same model."""
    _, out = made
    spec = model_specs["tiny"]
    run = run_cli("--sequences", str(out), "--model", spec, "--workers", "0", "--max-views", "9")  # a video a pass
    assert run["results"]["dataset"]["kind"] == "imagenet-p"
    rows = run["images"].to_pylist()
    assert len(rows) == 4
    for row in rows:
        logits = _logits(spec, out / row["relpath"])
        assert logits.shape[0] == row["seq_frames"] == 9
        probabilities = torch.from_numpy(logits).float().softmax(dim=1).numpy()
        assert row["seq_top1"] == logits.argmax(axis=1).tolist()
        assert row["seq_curve"] == probabilities[:, row["seq_majority"]].tolist(), "the same logits, to the last bit"
        figures = video_figures(logits, noise=False, difficulties=(1, 2, 3))
        for column, figure in (("seq_flip_probability", "flip_probability"), ("seq_top5", "top5_distance"),
                               ("seq_zipf", "zipf_distance")):  # fmt: skip
            assert row[column] == [f[figure] for f in figures.values()], column
        resized = _logits(spec, out / row["relpath"], lambda image: preprocess(TF.pil_to_tensor(image)))
        assert np.abs(resized - logits).max() > 1e-3, "resized to 256 and cropped, the frames give other logits"


def _tiny_checkpoint(folder: Path, name: str, seed: int) -> str:
    """A --model value of TinyStridedNet with its weights moved by seeded noise (another model's answers)."""
    network, generator = TinyStridedNet(), torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.3 * parameter.std() * torch.randn(parameter.shape, generator=generator))
    return f"{save_checkpoint(network, folder, name)}:tests.support.eval_models:TinyStridedNet"


def test_imagenet_p_figures_per_perturbation_and_difficulty_and_mfr(imagenet_p, run_cli, model_specs, tmp_path, capsys):
    stand_in = (
        f"{save_checkpoint(TinyStridedNet(), tmp_path, 'alexnet_baseline')}:tests.support.eval_models:TinyStridedNet"
    )
    torch.manual_seed(3)
    other = f"{save_checkpoint(TinyStridedNet(), tmp_path, 'other')}:tests.support.eval_models:TinyStridedNet"
    models = ["--model", model_specs["tiny"], "--model", stand_in, "--model", other]
    run = run_cli("--sequences", str(imagenet_p), "--layout", "imagenet-p", *models, "--workers", "0")
    results = run["results"]
    assert results["dataset"]["kind"] == "imagenet-p" and results["dataset"]["evaluated"] == 12
    assert {s["name"]: s["reason"] for s in results["dataset"]["skipped_folders"]} == {
        "notes": "not an ImageNet-P perturbation (--layout imagenet-p reads those only)"
    }
    videos = sorted((imagenet_p / "translate").rglob("*.mp4"))
    tiny = results["models"][0]["imagenet_p"]
    keys = [(r["perturbation"], r["difficulty"]) for r in tiny["perturbations"]]
    assert keys == [("gaussian_noise", 1), ("gaussian_noise", 2), ("translate", 1), ("translate", 2),
                    ("translate", 3)]  # fmt: skip
    logits = [_logits(model_specs["tiny"], video) for video in videos]
    for row in tiny["perturbations"]:
        noise = row["perturbation"] == "gaussian_noise"
        per_video = [video_figures(x, noise, [row["difficulty"]])[row["difficulty"]] for x in logits]
        flips = np.array([v["flip_probability"] for v in per_video])
        assert row["videos"] == 4
        assert row["flip_probability"] == mean_estimate(flips).to_json()
        for name in ("top5_distance", "zipf_distance"):
            values = np.array([v[name] for v in per_video])
            assert row[name]["value"] == pytest.approx(values.mean(), abs=1e-9), row
    # mFR / mT5D against the run's AlexNet, over the test perturbations present (translate, gaussian_noise)
    alexnet = results["models"][1]["imagenet_p"]["figures"]
    for key, figure in (("mFR", "flip_probability"), ("mT5D", "top5_distance")):
        expected = normalised_mean({p: f[figure] for p, f in tiny["figures"].items()},
                                   {p: f[figure] for p, f in alexnet.items()})  # fmt: skip
        assert (tiny[key]["value"], tiny[key]["perturbations"]) == expected
    assert results["imagenet_p"]["normalised_by"] == results["models"][1]["name"]
    assert [r["mfr"] for r in results["imagenet_p"]["published"]] == [row.mfr for row in LEADERBOARD]
    printed = capsys.readouterr().out
    assert "Low Pass Filter Pooling (bin-5) (published)" in printed and "mFR 51.2%" in printed
    report = (run["out"] / "report.html").read_text()
    assert "<h2>ImageNet-P</h2>" in report and "published, Zhang (ICML 2019)" in report
    # A later run without AlexNet takes its figures from the earlier run's results.json
    earlier = str(run["out"] / "results.json")
    later = run_cli("--sequences", str(imagenet_p), "--layout", "imagenet-p", "--model", model_specs["tiny"],
                    "--workers", "0", "--alexnet", earlier, out=tmp_path / "later")  # fmt: skip
    assert later["results"]["models"][0]["imagenet_p"]["mFR"] == tiny["mFR"]
    assert later["results"]["imagenet_p"]["normalised_by"].endswith("results.json")
    # Between two models: each perturbation and difficulty's paired difference over the same videos
    comparison = results["imagenet_p"]["comparisons"][1]
    assert (comparison["a"], comparison["b"]) == (results["models"][0]["name"], results["models"][2]["name"])
    assert [(r["perturbation"], r["difficulty"]) for r in comparison["perturbations"]] == keys
    assert all(r["videos"] == 4 and "significant" in r["flip_probability"] for r in comparison["perturbations"])


def test_a_bad_alexnet_file_is_refused_with_a_message(imagenet_p, run_cli, model_specs, tmp_path, capsys) -> None:
    bad = tmp_path / "alexnet.json"
    bad.write_text('{"translate": {"flip_probability": "high"}}')
    run_cli("--sequences", str(imagenet_p), "--layout", "imagenet-p", "--model", model_specs["tiny"], "--workers", "0",
            "--alexnet", str(bad), expect_status=2)  # fmt: skip
    assert "--alexnet" in capsys.readouterr().err


def test_the_docs_make_commands(tmp_path: Path) -> None:
    """docs/evaluation.md's two commands, as written (ImageNet-P's defaults), on one small photo and a random
    antialiased resnet18 (`my.pth`)."""
    commands = commands_matching(next(p for p, test in RUN.items() if test.endswith("::test_the_docs_make_commands")))
    assert len(commands) == 2
    photos = write_photo_folder(tmp_path / "images", images_per_class=1)
    for extra in sorted(photos.iterdir())[1:]:
        shutil.rmtree(extra)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(create_model("resnet18", filter_size=4), tmp_path, "mine")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in commands:
        text = command.text.replace(".venv/bin/python", sys.executable).replace("my.pth", str(checkpoint))
        text = text.replace("path/to/images", str(photos))
        done = subprocess.run(["bash", "-c", text], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{text}\n{done.stderr[-3000:]}"
    assert len(list((tmp_path / "build/sequences/translate").rglob("*.mp4"))) == 1
    assert "1 sequences evaluated" in done.stdout and (tmp_path / "build/translate/report.html").is_file()


@pytest.mark.timeout(30)
def test_an_alexnet_fifo_is_refused_unread(tmp_path: Path) -> None:
    """A FIFO given as --alexnet would block the run's summary forever: it is refused at once, named."""
    fifo = tmp_path / "alexnet.json"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"--alexnet .*alexnet\.json.*FIFO"):
        alexnet_figures(fifo)
