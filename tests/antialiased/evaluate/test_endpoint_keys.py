"""The endpoint engine past a real key renewal: a TorchServe with token authorization, whose keys are renewed through
its token API (as the launcher's renewal does) in the middle of an evaluation, at a point made certain: when the
engine reads the second image, after the first image's request and before the second's (one request in flight).
With ANTIALIASED_ENDPOINT_KEY_FILE the engine reads the key at every request and the run goes on; a fixed
ANTIALIASED_ENDPOINT_TOKEN goes stale, and the run stops with a line saying what to set instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from antialiased.evaluate.engines import endpoint
from antialiased.evaluate.engines.endpoint import KEY_FILE_ENV, TOKEN_ENV
from antialiased.serving.torchserve_keys import read_keys
from launcher.keys import renew_keys
from launcher.torchserve import TorchServe, start_torchserve
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.serving import encode, photo

pytestmark = [pytest.mark.serving, pytest.mark.slow]


@pytest.fixture(scope="module")
def keyed_torchserve(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """TorchServe with token authorization and keys of the default lifetime: renewed only when a test renews them."""
    workdir = tmp_path_factory.mktemp("keyed_torchserve")
    server = start_torchserve(model_store, [CIRCULAR_MODEL], workdir, token_auth=True,
                              log_file=workdir / "torchserve.out")  # fmt: skip
    try:
        server.wait_until_ready(240)
        yield server
    finally:
        server.stop()


@pytest.fixture
def renewal_at_the_second_image(keyed_torchserve: TorchServe, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The inference keys before and after a renewal made when the engine reads its second image (the image is read
    as before: the hook only renews the keys first)."""
    read, keys, images = endpoint.read_image_file, [], []

    def reading(path: Path, *args, **kwargs) -> bytes:
        images.append(path)
        if len(images) == 2:
            keys.append(read_keys(keyed_torchserve.key_file)["inference"]["key"])
            renew_keys(keyed_torchserve)
            keys.append(read_keys(keyed_torchserve.key_file)["inference"]["key"])
        return read(path, *args, **kwargs)

    monkeypatch.setattr(endpoint, "read_image_file", reading)
    return keys


def _args(photo_folder: Path, torchserve: TorchServe) -> list[str]:
    common = ["--data", str(photo_folder), "--limit", "3", "--measure", "accuracy", "--concurrency", "1"]
    return [*common, "--endpoint", torchserve.inference_url, "--model", CIRCULAR_MODEL]


def _refused(torchserve: TorchServe, key: str) -> bool:
    answer = httpx.post(f"{torchserve.inference_url}/predictions/{CIRCULAR_MODEL}", content=encode(photo("chelsea")),
                        headers={"Authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip
    return answer.status_code == 400 and "Token Authorization failed" in answer.text


def test_with_the_key_file_the_run_goes_on_past_a_renewal(
    keyed_torchserve, renewal_at_the_second_image, photo_folder, run_cli, monkeypatch
) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(keyed_torchserve.key_file))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    run = run_cli(*_args(photo_folder, keyed_torchserve))
    assert run["results"]["dataset"]["evaluated"] == 3 and run["results"]["dataset"]["unreadable"] == []
    old, new = renewal_at_the_second_image
    assert old != new and _refused(keyed_torchserve, old), "a real renewal: the first key is refused from then on"


def test_a_fixed_token_stops_the_run_at_the_renewal_saying_what_to_set(
    keyed_torchserve, renewal_at_the_second_image, photo_folder, run_cli, monkeypatch, capsys
) -> None:
    monkeypatch.setenv(TOKEN_ENV, read_keys(keyed_torchserve.key_file)["inference"]["key"])
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    run_cli(*_args(photo_folder, keyed_torchserve), expect_status=2)
    err = capsys.readouterr().err
    assert err.startswith(f"error: TorchServe refused the key sent for {CIRCULAR_MODEL} (Token Authorization failed)")
    assert f"{TOKEN_ENV} is a fixed key: set {KEY_FILE_ENV} to TorchServe's key file instead" in err
    assert err.count("\n") == 1 and len(renewal_at_the_second_image) == 2


def test_a_key_file_that_does_not_exist_is_refused_before_the_run(photo_folder, run_cli, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "key_file.json"))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    args = ["--data", str(photo_folder), "--limit", "1", "--endpoint", "http://127.0.0.1:9", "--model", "m"]
    run_cli(*args, expect_status=2)
    assert f"{KEY_FILE_ENV}={tmp_path / 'key_file.json'}: no such file" in capsys.readouterr().err
