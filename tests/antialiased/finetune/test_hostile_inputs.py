"""What an attacker or a slip can put in a fine-tuning run's way, each a one-line error (status 2) with nothing run
and no weights written: a pickle planted as the resume state (or in torch.hub's cache of torchvision's weights), a
damaged state, a loss that becomes NaN, options at their extremes, an --out that is no folder, and a second run
into a run folder that another process holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from antialiased.finetune.cli import main
from antialiased.finetune.logs import STEPS_FILE
from antialiased.finetune.state import STATE_FILE
from tests.support.finetune import NAME, ROOT, environment, finetune_args


class _Planted:
    """Unpickled, it runs a shell command: what `torch.load(..., weights_only=False)` would do with it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def saved_state(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state file of a real run stopped after one step."""
    out = tmp_path_factory.mktemp("stopped")
    assert main(finetune_args(*inputs, out, "--max-steps", "1")) == 0
    return out / NAME / STATE_FILE


def _one_line_error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def _no_weights(out: Path) -> None:
    assert not (out / "weights").exists() and not (out / "registry.json").exists()


def test_a_pickle_planted_as_the_resume_state_is_refused_and_never_runs(inputs, tmp_path, capsys) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "out" / NAME).mkdir(parents=True)
    torch.save({"settings": {}, "model": _Planted(marker)}, tmp_path / "out" / NAME / STATE_FILE)
    error = _one_line_error(finetune_args(*inputs, tmp_path / "out"), capsys)
    assert "unsupported GLOBAL posix.system" in error and "nothing in it was run" in error and "--overwrite" in error
    assert not marker.exists(), "the planted code ran"
    _no_weights(tmp_path / "out")


def test_a_pickle_planted_in_torch_hubs_cache_is_refused_and_never_runs(inputs, tmp_path, capsys, monkeypatch) -> None:
    """torchvision's weights by name (`--weights IMAGENET1K_V1`) come from torch.hub's cache when it holds them."""
    marker = tmp_path / "ran"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save({"conv1.weight": _Planted(marker)}, tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    args = finetune_args(inputs[0], Path("IMAGENET1K_V1"), tmp_path / "out")
    error = _one_line_error(args, capsys)
    assert "cannot load torchvision's resnet18 weights" in error and "unsupported GLOBAL posix.system" in error
    assert not marker.exists(), "the planted code ran"


def _truncated(state: dict, path: Path, saved: Path) -> None:
    path.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])


def _not_torch(state: dict, path: Path, saved: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))


def _a_list(state: dict, path: Path, saved: Path) -> None:
    torch.save([torch.zeros(3)], path)


def _fields_missing(state: dict, path: Path, saved: Path) -> None:
    torch.save({"settings": state["settings"], "model": state["model"]}, path)


def _another_network(state: dict, path: Path, saved: Path) -> None:
    torch.save({**state, "model": {"conv.weight": torch.zeros(2, 2)}}, path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncated, "is not a readable PyTorch resume state"),
        (_not_torch, "is not a readable PyTorch resume state"),
        (_a_list, "it holds a list, not a state"),
        (_fields_missing, "missing or mistyped fields: optimizer, scheduler, scaler, epoch, step_in_epoch, step, rng"),
        (_another_network, "it does not fit this run's model and optimizer"),
    ],
)
def test_a_damaged_state_is_a_one_line_error(inputs, saved_state, tmp_path, capsys, damage, message) -> None:
    path = tmp_path / NAME / STATE_FILE
    path.parent.mkdir()
    damage(torch.load(saved_state, weights_only=True), path, saved_state)
    error = _one_line_error(finetune_args(*inputs, tmp_path, "--max-steps", "1"), capsys)
    assert message in error and str(path) in error and "--overwrite" in error
    assert main(finetune_args(*inputs, tmp_path, "--max-steps", "1", "--overwrite")) == 0, "--overwrite starts afresh"


def test_a_loss_that_becomes_nan_stops_the_run_and_writes_no_weights(inputs, tmp_path, capsys) -> None:
    """A learning rate of 1e38 is finite, but one step makes the weights overflow: the second step's loss is NaN."""
    error = _one_line_error(finetune_args(*inputs, tmp_path, "--lr", "1e38", "--epochs", "2"), capsys)
    assert "the training loss is nan at step 2" in error and "wrote no weights" in error
    _no_weights(tmp_path)
    lines = (tmp_path / NAME / STEPS_FILE).read_text().splitlines()
    records = [json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in {STEPS_FILE}")) for line in lines]
    assert [record["step"] for record in records] == [1]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--lr", "nan"], "--lr must be a finite positive number, got nan"),
        (["--lr", "inf"], "--lr must be a finite positive number, got inf"),
        (["--lr", "0"], "--lr must be a finite positive number, got 0.0"),
        (["--momentum", "nan"], "--momentum must be a finite zero or positive number, got nan"),
        (["--weight-decay=-1"], "--weight-decay must be a finite zero or positive number, got -1.0"),
        (["--lr-gamma=-inf"], "--lr-gamma must be a finite positive number, got -inf"),
        (["--max-steps", "0"], "--max-steps must be at least 1, got 0"),
        (["--max-steps", "-3"], "--max-steps must be at least 1, got -3"),
        (["--save-every", "-1"], "--save-every must be at least 0, got -1"),
        (["--workers", "-2"], "--workers must be at least 0, got -2"),
        (["--val-limit", "0"], "--val-limit must be at least 1, got 0"),
        (["--filter-size", "0"], "--filter-size must be 1 to 7"),
        (["--crop-size", "0"], "--crop-size must be at least 1, got 0"),
    ],
)
def test_options_out_of_range_are_refused_before_anything_runs(inputs, tmp_path, capsys, option, message) -> None:
    assert message in _one_line_error(finetune_args(*inputs, tmp_path, *option), capsys)
    assert not (tmp_path / NAME).exists()


def test_a_crop_the_model_cannot_run_on_is_refused(inputs, tmp_path, capsys) -> None:
    error = _one_line_error(finetune_args(*inputs, tmp_path, "--crop-size", "1"), capsys)
    assert "--crop-size 1: the model does not run on crops of that size" in error and "larger --crop-size" in error


def test_an_out_that_is_a_file_or_a_dangling_link_is_refused(inputs, tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert f"--out {tmp_path / 'file'} is not a directory" in _one_line_error(
        finetune_args(*inputs, tmp_path / "file"), capsys
    )
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    error = _one_line_error(finetune_args(*inputs, tmp_path / "link"), capsys)
    assert f"--out {tmp_path / 'link'} is a link to {tmp_path / 'gone'}, which does not exist" in error
    assert not (tmp_path / "gone").exists()


def test_a_second_run_into_a_held_run_folder_fails_at_once(inputs, tmp_path, capsys) -> None:
    """Another process holds OUT/NAME as a running fine-tuning does (a POSIX lock is per process, so not this one)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from antialiased.folder_lock import folder_lock\n"
         f"with folder_lock(Path({str(tmp_path / NAME)!r})):\n print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=environment(),
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        error = _one_line_error(finetune_args(*inputs, tmp_path), capsys)
    finally:
        holder.communicate(timeout=60)
    assert f"another fine-tuning run (process {holder.pid}) is running in {tmp_path / NAME}" in error
    assert not (tmp_path / NAME / STEPS_FILE).exists()
    assert main(finetune_args(*inputs, tmp_path, "--max-steps", "1")) == 0, "free once its holder has gone"


def test_without_requirements_eval_the_commands_say_what_to_install_mocked_uninstalled() -> None:
    """After `make run` alone matplotlib and pyarrow are missing (mocked: None in sys.modules, as if not installed)."""
    for command, package in (("finetune", "matplotlib"), ("evaluate", "pyarrow")):
        code = (f"import runpy, sys; sys.modules[{package!r}] = None; sys.argv = ['x', '--help']; "
                f"runpy.run_module('antialiased.{command}', run_name='__main__')")  # fmt: skip
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert f"python -m antialiased.{command} needs {package}" in done.stderr
        assert "`make setup-eval` first" in done.stderr and f'`make {command} ARGS="..."`' in done.stderr
