"""`make run` (python -m scripts.run) offline: serves random weights with a loud warning, stops on SIGTERM; a second
run in the same folder, or on a port the first holds, is refused at once and leaves the first undisturbed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from antialiased.weights.fetch import MIRROR_ENV
from launcher.ports import free_port
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
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.run", *options, *paths],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any("Ctrl-C stops everything" in line for line in output):
            assert process.poll() is None, "".join(output[-50:])
            assert time.monotonic() < deadline, "".join(output[-50:])
            time.sleep(0.5)
        text = "".join(output)
        assert "RANDOMLY INITIALISED" in text
        inference = re.search(r"inference\s+(http://127\.0\.0\.1:\d+)/predictions", text).group(1)
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
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(90)
    assert status == 0, "".join(output[-50:])
    with pytest.raises(httpx.TransportError):  # TorchServe is gone with it
        httpx.post(f"{inference}/predictions/small", content=b"x", timeout=5)
