"""A run killed mid-way (a real subprocess, SIGKILL) resumes: nothing computed twice, nothing lost, no partial
output that looks complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.evaluation.conftest import assert_same_rows

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SHARD = 10


def _args(data: Path, model: str) -> list[str]:
    return ["--data", str(data), "--model", model, "--measure", "consistency", "--epochs-shift", "2",
            "--batch-size", "2", "--shard-size", str(SHARD)]  # fmt: skip


def _command(data: Path, model: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "antialiased.evaluate", *_args(data, model), "--out", str(out), "--quiet"]


def test_killed_run_resumes_without_recomputing_or_losing(run_cli, photo_folder, model_specs, tmp_path) -> None:
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(_command(photo_folder, model_specs["tiny"], out), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list((out / "shards").glob("*.parquet"))) < 3 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()

    written = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (out / "shards").glob("*.parquet")}
    assert 3 <= len(written) < 200 // SHARD, "killed mid-way"
    for path in written:
        assert pq.read_table(path).num_rows == SHARD, "a shard that is there is whole"
    assert not [name for name in ("results.json", "images.parquet", "report.html") if (out / name).exists()]

    resumed = subprocess.run(_command(photo_folder, model_specs["tiny"], out), cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in written} == written, "kept, not redone"
    starts = [s for s in map(json.loads, (out / "sessions.jsonl").read_text().splitlines()) if s["event"] == "start"]
    assert [s["pending_images"] for s in starts] == [200, 200 - SHARD * len(written)], "the rest, and only the rest"

    whole = run_cli(*_args(photo_folder, model_specs["tiny"]), out=tmp_path / "whole")  # never interrupted
    assert_same_rows(pq.read_table(out / "images.parquet"), whole["images"])
    figures = json.loads((out / "results.json").read_text())["models"][0]["figures"]
    assert figures == whole["results"]["models"][0]["figures"]
