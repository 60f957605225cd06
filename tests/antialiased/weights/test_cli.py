"""`python -m antialiased.weights {list, fetch, verify}`: what each prints, and every failure one line on stderr
with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from antialiased.weights import sha256_file
from antialiased.weights.__main__ import main
from antialiased.weights.registry import REGISTRY_ENV, register, unregister
from tests.support.weights_mirror import REPO_ROOT, LocalMirror, entry_for, file_fields


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "antialiased.weights", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_lists_fetches_verifies_and_fails_with_one_line(
    mirror: LocalMirror, reference_resnet18: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.serve(reference_resnet18)
    user_file = tmp_path / "registry.json"
    user_file.write_text(json.dumps([file_fields(reference_resnet18)]))
    monkeypatch.setenv(REGISTRY_ENV, str(user_file))
    name = file_fields(reference_resnet18)["name"]

    listing = _cli("list")
    assert listing.returncode == 0, listing.stderr
    assert "resnet50_lpf4_finetune" in listing.stdout and "cad66808" in listing.stdout and "77.41" in listing.stdout
    assert name in listing.stdout and "CC BY-NC-SA 4.0" in listing.stdout

    cache = tmp_path / "cli-cache"
    fetched = _cli("fetch", name, "--cache-dir", str(cache))
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip()) == cache / reference_resnet18.name
    assert sha256_file(cache / reference_resnet18.name) == sha256_file(reference_resnet18)

    verified = _cli("verify", str(reference_resnet18), name)
    assert verified.returncode == 0 and verified.stdout.startswith("ok:"), verified.stderr

    failed = _cli("fetch", "resnet50_lpf4_fintune")
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: unknown weights") and failed.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("fetch", "resnet50_lpf4_finetune", "--quiet"), "HTTP 404"),
        (("verify", "{checkpoint}", "resnet18_lpf4_finetune"), "expected 8cc58f59"),
        (("verify", "{checkpoint}", "my_resnet18_lpf3"), "of another shape"),
        (("verify", "{checkpoint}", "nope"), "unknown weights"),
        (("verify", "{checkpoint}.missing", "my_resnet18_lpf3"), ".missing: No such file or directory"),
        (("verify", "{directory}", "my_resnet18_lpf3"), "not a regular file: a directory"),
        (("verify", "/dev/zero", "my_resnet18_lpf3"), "cannot verify /dev/zero: not a regular file: a character"),
    ],
    ids=[
        "fetch-404",
        "verify-hash",
        "verify-arch",
        "verify-unknown",
        "verify-missing",
        "verify-directory",
        "verify-device",
    ],
)
def test_cli_failure_is_one_line_on_stderr_and_status_2(
    args: tuple[str, ...], problem: str, mirror: LocalMirror, reference_resnet18: Path, capsys
) -> None:
    # The file really is an lpf4 model; registered as lpf3 with its true hash, only the model check fails.
    entry = register(entry_for(reference_resnet18, arch="resnet18", filter_size=3, name="my_resnet18_lpf3"))
    try:
        status = main([arg.format(checkpoint=reference_resnet18, directory=reference_resnet18.parent) for arg in args])
    finally:
        unregister(entry.name)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and problem in err and err.count("\n") == 1
