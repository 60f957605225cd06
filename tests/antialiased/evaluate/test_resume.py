"""A run killed mid-way (a real subprocess, SIGKILL) resumes: nothing computed twice, nothing lost, no partial
output that looks complete. A damaged shard is reported and computed again; a second run into a busy directory
fails at once; Ctrl-C ends a run with one line that says how to resume. A run acted on in progress is held at a gate
(tests/support/gate.py) after a known number of batches until the test has acted: it cannot end first."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from antialiased.evaluate.store import RunStore
from tests.support.datasets import assert_same_rows
from tests.support.gate import Gate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
SHARD = 10
BATCHES_PER_SHARD = SHARD // 2  # --batch-size 2, one model: one forward pass a batch
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _args(data: Path, model: str) -> list[str]:
    return ["--data", str(data), "--model", model, "--measure", "consistency", "--epochs-shift", "2",
            "--batch-size", "2", "--shard-size", str(SHARD)]  # fmt: skip


def _command(data: Path, model: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "antialiased.evaluate", *_args(data, model), "--out", str(out), "--quiet"]


def _start(data: Path, model: str, out: Path, gate: Gate) -> subprocess.Popen:
    """The command in its own process group (as a shell starts it), held at `gate`'s forward pass (one a batch)."""
    return subprocess.Popen(_command(data, model, out), cwd=ROOT, env={**ENV, **gate.env()}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def _pending_per_session(out: Path) -> list[int]:
    sessions = map(json.loads, (out / "sessions.jsonl").read_text().splitlines())
    return [s["pending_images"] for s in sessions if s["event"] == "start"]


def test_killed_run_resumes_without_recomputing_or_losing(run_cli, photo_folder, model_specs, tmp_path) -> None:
    out, gate = tmp_path / "killed", Gate(tmp_path / "gate", after=3 * BATCHES_PER_SHARD)
    process = _start(photo_folder, model_specs["gated"], out, gate)
    gate.wait_until_held(process)  # three shards written, the fourth in progress
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()

    written = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (out / "shards").glob("*.parquet")}
    assert len(written) == 3, "killed mid-way, after three shards"
    for path in written:
        assert pq.read_table(path).num_rows == SHARD, "a shard that is there is whole"
    assert not [name for name in ("results.json", "images.parquet", "report.html") if (out / name).exists()]

    resumed = subprocess.run(_command(photo_folder, model_specs["gated"], out), cwd=ROOT, env=ENV, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in written} == written, "kept, not redone"
    assert _pending_per_session(out) == [200, 200 - 3 * SHARD], "the rest, and only the rest"

    whole = run_cli(*_args(photo_folder, model_specs["tiny"]), out=tmp_path / "whole")  # never interrupted
    assert_same_rows(pq.read_table(out / "images.parquet"), whole["images"])
    figures = json.loads((out / "results.json").read_text())["models"][0]["figures"]
    assert figures == whole["results"]["models"][0]["figures"]


@pytest.mark.timeout(300)
def test_a_damaged_shard_is_reported_and_computed_again(run_cli, colour_folder, model_specs, tmp_path, caplog) -> None:
    args = ("--data", str(colour_folder), "--model", model_specs["colour"], "--shard-size", str(SHARD))
    first = run_cli(*args)
    shards = sorted((first["out"] / "shards").glob("*.parquet"))
    truncated, foreign = shards[1], shards[2]
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    foreign.write_bytes(shards[0].read_bytes())  # a whole shard, but of other images
    kept = {path: path.stat().st_mtime_ns for path in shards if path not in (truncated, foreign)}

    with caplog.at_level(logging.WARNING):
        again = run_cli(*args)
    warnings = "\n".join(record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    assert f"the shard {truncated} is damaged: it cannot be read (" in warnings
    assert f"the shard {foreign} is damaged: its rows are not those of images 20-29; it is computed again" in warnings
    assert _pending_per_session(first["out"]) == [60, 2 * SHARD], "the damaged shards, and only them"
    assert {path: path.stat().st_mtime_ns for path in kept} == kept
    assert_same_rows(again["images"], first["images"])


@pytest.mark.timeout(300)
def test_a_second_run_into_a_busy_directory_fails_at_once(photo_folder, model_specs, tmp_path) -> None:
    out, gate = tmp_path / "busy", Gate(tmp_path / "gate", after=0)
    first = _start(photo_folder, model_specs["gated"], out, gate)
    try:
        gate.wait_until_held(first)  # the directory is locked, and stays so until the gate opens
        second = subprocess.run(_command(photo_folder, model_specs["gated"], out), cwd=ROOT, env=ENV,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert first.poll() is None, "the first run goes on"
    finally:
        first.kill()
        first.wait()
        first.stderr.close()
    assert second.returncode == 2
    assert second.stderr.splitlines() == [
        f"error: another evaluation (process {first.pid}) is running in {out}: wait for it to end, or use another --out"
    ]
    assert _pending_per_session(out) == [200], "the second run computed nothing"
    with RunStore(out, SHARD).lock():  # the killed run's lock went with it
        pass


@pytest.mark.timeout(300)
def test_ctrl_c_ends_the_run_with_one_line_and_the_same_command_resumes(photo_folder, model_specs, tmp_path) -> None:
    out, gate = tmp_path / "interrupted", Gate(tmp_path / "gate", after=BATCHES_PER_SHARD)
    process = _start(photo_folder, model_specs["gated"], out, gate)
    gate.wait_until_held(process)  # one shard written; the run cannot end before the signal
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a shell: to the whole group, the loader's workers too
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert stderr.decode().splitlines() == [
        f"interrupted: run the same command to resume (the finished shards in {out} are kept)"
    ]
    assert len(list((out / "shards").glob("*.parquet"))) == 1
    resumed = subprocess.run(_command(photo_folder, model_specs["gated"], out), cwd=ROOT, env=ENV, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert _pending_per_session(out) == [200, 200 - SHARD]
