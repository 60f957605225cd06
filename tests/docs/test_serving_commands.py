"""The commands the docs show, run from the docs' own text (tests/support/docs_commands.py) against real servers:
the session's TorchServe for the classify commands, a probe service in front of it for the probe and /v2
commands, the library's command lines on a checkpoint and a data folder made here. The docs' addresses become the
servers' (127.0.0.1:8080 TorchServe, 127.0.0.1:8000 the probe service), `photo.jpg` is a real photo in the working
folder, `.venv/bin/python` this interpreter; nothing else of a command changes. tests/docs/test_docs_commands.py checks
that every command of the docs is run here (or elsewhere, or says what it needs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from antialiased.weights import sha256_file
from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe
from tests.support import videos
from tests.support.datasets import PHOTO_SYNSETS, write_photo_folder
from tests.support.docs_commands import ROOT, RUN, DocCommand, commands_matching
from tests.support.served_models import LPF_MODEL
from tests.support.service import SAMPLES, start_test_service, torchserve_env, wait_until_ready

pytestmark = [pytest.mark.serving, pytest.mark.slow]


def _commands(test_name: str) -> list[DocCommand]:
    """The docs' commands that tests/docs/test_docs_commands.py says `test_name` runs."""
    (pattern,) = [pattern for pattern, test in RUN.items() if test.endswith(f"::{test_name}")]
    return commands_matching(pattern)


@pytest.fixture(scope="module")
def probe_service(torchserve: TorchServe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log_file = tmp_path_factory.mktemp("docs_commands") / "service.log"
    with start_test_service(torchserve.inference_url, log_file, **torchserve_env(torchserve)) as service:
        wait_until_ready(service)
        yield service


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(SAMPLES / "chelsea.jpg", tmp_path / "photo.jpg")
    return tmp_path


def _run(command: DocCommand, cwd: Path, replace: dict[str, str]) -> str:
    """`command`'s output, run by bash in `cwd` with `replace`'s strings put in; it must succeed."""
    text = command.text
    for old, new in {".venv/bin/python": sys.executable, **replace}.items():
        text = text.replace(old, new)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{command.page}: {text}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _answer(command: DocCommand, cwd: Path, replace: dict[str, str]) -> dict:
    """The JSON answer of a curl command; not an error body."""
    answer = json.loads(_run(command, cwd, replace))
    assert "code" not in answer and "error" not in answer, f"{command.page}: {command.text}: {answer}"
    return answer


def test_the_classify_commands(torchserve: TorchServe, workdir: Path) -> None:
    for command in _commands("test_the_classify_commands"):
        answer = _answer(command, workdir, {"http://127.0.0.1:8080": torchserve.inference_url})
        asked = 3 if "topk=3" in command.text or "X-TopK: 3" in command.text else 5
        assert answer["model"]["name"] == LPF_MODEL and len(answer["topk"]) == asked, command.text


def test_the_probe_commands(probe_service: ServiceProcess, workdir: Path) -> None:
    for command in _commands("test_the_probe_commands"):
        answer = _answer(command, workdir, {"http://127.0.0.1:8000": probe_service.url})
        probes = answer["results"] if "/v1/compare" in command.text else [answer]
        assert probes and all(0 <= probe["score"] <= 1 and probe["shifts"] for probe in probes), command.text


def test_the_sequence_command(probe_service: ServiceProcess, workdir: Path) -> None:
    """The docs' frames are three crops of the photo, 4 pixels apart."""
    (command,) = _commands("test_the_sequence_command")
    photo = Image.open(workdir / "photo.jpg")
    for k in range(3):
        photo.crop((4 * k, 0, 4 * k + 400, photo.height)).save(workdir / f"frame{k}.jpg", quality=95)
    answer = _answer(command, workdir, {"http://127.0.0.1:8000": probe_service.url})
    assert answer["frames"] == 3 and len(answer["results"]) == 2, command.text
    for result in answer["results"]:
        assert all(len(frame) == 3 for frame in result["frames"]) and 0 <= result["metrics"]["flip_rate"] <= 1


def test_the_video_sequence_command(probe_service: ServiceProcess, workdir: Path) -> None:
    """The docs' clip is an H.264 MP4 of eight crops of the photo, 4 pixels apart: frames 0, 2, 4, 6 are used."""
    (command,) = _commands("test_the_video_sequence_command")
    photo = np.asarray(Image.open(workdir / "photo.jpg").convert("RGB"))
    (workdir / "clip.mp4").write_bytes(videos.mp4([photo[:224, 4 * k : 4 * k + 224] for k in range(8)]))
    answer = _answer(command, workdir, {"http://127.0.0.1:8000": probe_service.url})
    assert answer["frames_used"] == [0, 2, 4, 6] and answer["video"]["codec"] == "h264", command.text
    for result in answer["results"]:
        assert len(result["frames"]) == 4 and 0 <= result["metrics"]["flip_rate"] <= 1


def test_the_open_inference_protocol_command(probe_service: ServiceProcess, workdir: Path) -> None:
    (command,) = _commands("test_the_open_inference_protocol_command")
    answer = _answer(command, workdir, {"http://127.0.0.1:8000": probe_service.url})
    (output,) = answer["outputs"]
    assert output["name"] == "probabilities" and len(output["data"]) == 3, "the top 3 as 'probability:index:label'"


def test_the_weights_list_command(workdir: Path) -> None:
    (command,) = _commands("test_the_weights_list_command")
    assert "resnet50_lpf4_finetune" in _run(command, workdir, {})


def test_the_evaluate_command(served_checkpoints: dict[str, Path], workdir: Path) -> None:
    """The docs' evaluation of a checkpoint of your own (random weights here) on a small ImageFolder."""
    (command,) = _commands("test_the_evaluate_command")
    data = write_photo_folder(workdir / "val", images_per_class=1)
    _run(command, workdir, {"path/to/val": str(data), "my.pth": str(served_checkpoints[LPF_MODEL])})
    (results,) = workdir.rglob("results.json")
    results = json.loads(results.read_text())
    assert results["dataset"]["evaluated"] == len(PHOTO_SYNSETS), "one image of each class"
    (model,) = results["models"]
    assert model["sha256"] == sha256_file(served_checkpoints[LPF_MODEL]), "the checkpoint the command names"
    measured = {"top1", "top5", "consistency", "diagonal_top1", "circular_consistency"}
    assert measured <= set(model["figures"]), model["figures"].keys()
    assert all(0 <= model["figures"][name]["value"] <= 100 for name in measured), model["figures"]
