"""`make run` (python -m scripts.run) offline: serves random weights with a loud warning, stops on SIGTERM; a second
run in the same folder, or on a port the first holds, is refused at once and leaves the first undisturbed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from antialiased.weights.fetch import MIRROR_ENV
from launcher.ports import free_port
from tests.support.run_script import run_script
from tests.support.serving import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _second_run(folder: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    """Another `python -m scripts.run` from `folder`, while the first serves; it must give up within a minute."""
    command = [sys.executable, "-m", "scripts.run", "--model", "small=resnet18_lpf4_finetune", "--no-probe", *options]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=60)


def test_run_serves_untrained_weights_offline_and_stops_cleanly(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), MIRROR_ENV: f"http://127.0.0.1:{free_port()}/"}  # offline
    options = ["--model", "small=resnet18_lpf4_finetune", "--free-ports", "--no-probe"]
    paths = ["--store", str(tmp_path / "store"), "--weights-dir", str(tmp_path / "weights")]
    with run_script([*options, *paths], tmp_path, env) as run:
        assert "RANDOMLY INITIALISED" in run.text
        inference = run.inference
        answer = httpx.post(f"{inference}/predictions/small", content=encode(photo("rocket")), timeout=60)
        assert answer.status_code == 200
        assert answer.json()["weights"]["untrained"] is True

        config = tmp_path / "build" / "run" / "torchserve" / "config.properties"
        written = config.read_bytes()
        same_folder = _second_run(tmp_path, env, "--free-ports", *paths)
        assert same_folder.returncode == 1 and "another make run is running here" in same_folder.stderr
        assert "TorchServe exited" not in same_folder.stderr + same_folder.stdout
        assert config.read_bytes() == written, "the running TorchServe's configuration is untouched"

        other = tmp_path / "other"
        other.mkdir()
        port = inference.rsplit(":", 1)[1]
        same_port = _second_run(other, env, "--port", port, "--store", str(other / "store"))
        assert same_port.returncode == 1 and f"port {port} (TorchServe inference" in same_port.stderr, same_port.stderr
        assert not list((other / "store").glob("*.mar")), "refused before building"
        again = httpx.post(f"{inference}/predictions/small", content=encode(photo("rocket")), timeout=60)
        assert again.status_code == 200, "the first run still serves"
    assert run.status == 0, run.text[-5000:]
    with pytest.raises(httpx.TransportError):  # TorchServe is gone with it
        httpx.post(f"{inference}/predictions/small", content=b"x", timeout=5)
