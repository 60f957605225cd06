"""Fetching weights from a local mirror (a real HTTP server on 127.0.0.1: test names say `local_mirror`): verified,
cached, downloaded again when damaged, and every failure (hash, truncation, reset, 404, down, read-only cache) clear
and leaving nothing behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from antialiased.weights import HashMismatchError, WeightsUnavailableError, load_state_dict, sha256_file
from antialiased.weights.fetch import MIRROR_ENV, fetch
from antialiased.weights.load import load_pretrained
from antialiased.weights.registry import WeightsEntry, get_entry
from tests.support.weights_mirror import LocalMirror, files_in


def test_fetch_from_local_mirror_downloads_verifies_and_shows_progress(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path, capfd
) -> None:
    mirror.serve(reference_resnet18)
    path = fetch(registered.name)
    assert path == isolated_env / reference_resnet18.name
    assert path.read_bytes() == reference_resnet18.read_bytes()
    assert files_in(isolated_env) == [reference_resnet18.name]  # no temporary files left
    assert mirror.requests == [f"/{reference_resnet18.name}"]
    assert "100%" in capfd.readouterr().err


def test_fetch_without_progress_prints_nothing(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, capfd
) -> None:
    mirror.serve(reference_resnet18)
    fetch(registered.name, progress=False)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_verified_cached_file_is_reused_with_the_local_mirror_stopped(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, tmp_path: Path
) -> None:
    mirror.serve(reference_resnet18)
    cache = tmp_path / "explicit-cache"
    first = fetch(registered.name, cache_dir=cache, progress=False)
    mirror.stop()
    assert fetch(registered.name, cache_dir=cache, progress=False) == first
    model = load_pretrained(registered.name, cache_dir=cache, progress=False)
    assert torch.equal(model.fc.weight, load_state_dict(reference_resnet18)["fc.weight"])
    assert len(mirror.requests) == 1


def test_file_placed_in_the_cache_by_hand_is_used_while_offline(
    registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    isolated_env.mkdir()
    shutil.copyfile(reference_resnet18, isolated_env / reference_resnet18.name)
    assert fetch(registered.name, progress=False) == isolated_env / reference_resnet18.name


def test_cached_file_with_a_wrong_hash_is_discarded_and_downloaded_again_from_local_mirror(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    mirror.serve(reference_resnet18)
    isolated_env.mkdir()
    (isolated_env / reference_resnet18.name).write_bytes(b"corrupted")
    path = fetch(registered.name, progress=False)
    assert sha256_file(path) == sha256_file(reference_resnet18)
    assert len(mirror.requests) == 1


def test_official_name_whose_local_mirror_file_differs_raises_hash_mismatch_and_keeps_nothing(
    mirror: LocalMirror, reference_resnet18: Path, isolated_env: Path
) -> None:
    official = get_entry("resnet18_lpf4_finetune")
    mirror.serve(reference_resnet18, official.file_name)
    actual = sha256_file(reference_resnet18)[:8]
    with pytest.raises(HashMismatchError, match=f"starts with {actual}, expected {official.sha256_prefix}"):
        fetch(official.name, progress=False)
    assert files_in(isolated_env) == []


def test_truncated_file_on_local_mirror_raises_hash_mismatch_and_keeps_nothing(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    (mirror.directory / reference_resnet18.name).write_bytes(reference_resnet18.read_bytes()[:1_000_000])
    with pytest.raises(HashMismatchError, match="not kept"):
        fetch(registered.name, progress=False)
    assert files_in(isolated_env) == []


@pytest.mark.parametrize(
    ("cut", "problem"),
    [("close", r"interrupted .*received \d+ bytes, expected \d+"), ("reset", "interrupted")],
    ids=["closed", "reset"],
)
def test_a_transfer_cut_short_by_local_mirror_is_reported_as_interrupted_and_keeps_nothing(
    cut: str, problem: str, mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    """The mirror announces the whole file, sends half, then closes the connection or resets it."""
    mirror.serve(reference_resnet18)
    mirror.httpd.cut_short[reference_resnet18.name] = cut
    with pytest.raises(WeightsUnavailableError, match=problem):
        fetch(registered.name, progress=False)
    assert files_in(isolated_env) == []


def test_missing_file_on_local_mirror_is_unavailable_with_url_and_what_to_do(
    mirror: LocalMirror, registered: WeightsEntry, isolated_env: Path
) -> None:
    with pytest.raises(WeightsUnavailableError) as caught:
        fetch(registered.name, progress=False)
    message = str(caught.value)
    assert f"{mirror.base_url}{registered.file_name}: HTTP 404" in message
    assert MIRROR_ENV in message and str(isolated_env / registered.file_name) in message
    assert files_in(isolated_env) == []


def test_mirror_can_be_a_file_url_of_a_local_directory(
    registered: WeightsEntry, reference_resnet18: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, reference_resnet18.parent.as_uri())
    assert sha256_file(fetch(registered.name, progress=False)) == sha256_file(reference_resnet18)


def test_mirror_down_is_unavailable_with_url(registered: WeightsEntry) -> None:
    with pytest.raises(WeightsUnavailableError, match=f"{os.environ[MIRROR_ENV]}{registered.file_name}: .*refused"):
        fetch(registered.name, progress=False)


def test_a_read_only_cache_without_the_file_is_unavailable_mocked_read_only_mount(
    registered: WeightsEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only weights volume (Kubernetes) cannot receive a download: unavailable, which the untrained opt-in
    accepts, not a write error. Mocked: the read-only mount (root's tests cannot get one from permission bits)."""
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    with pytest.raises(WeightsUnavailableError, match="read-only cache"):
        fetch(registered.name, progress=False)
