"""The weights registry, fetcher, loaders and command line.

There is no internet here, so the official host is replaced by a real local HTTP server on
127.0.0.1 (through the mirror setting, as a user behind a proxy would do): test names say
`local_mirror`. The served checkpoints are the reference package's randomly initialised models
in the official layout, with torch.hub-style hash-suffixed names.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import antialiased_cnns
import pytest
import torch
import torchvision
from torchvision.models import ResNet50_Weights

from antialiased.models import create_model
from antialiased.weights import (
    ArchitectureMismatchError,
    CheckpointFormatError,
    HashMismatchError,
    RegistryError,
    UnknownWeightsError,
    WeightsUnavailableError,
    load_state_dict,
    save_checkpoint,
    sha256_file,
)
from antialiased.weights.__main__ import main
from antialiased.weights.fetch import CACHE_ENV, MIRROR_ENV, fetch
from antialiased.weights.load import load_pretrained, load_weights
from antialiased.weights.registry import REGISTRY_ENV, WeightsEntry, get_entry, list_entries, register, unregister

REPO_ROOT = Path(__file__).resolve().parents[2]
FAR_AWAY = "https://weights.example.invalid/checkpoints/"  # never contacted: the mirror replaces it


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; a file named in `server.cut_short` announces its full size but stops halfway,
    closing the connection ("close") or resetting it ("reset")."""

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        cut = self.server.cut_short.get(name)
        if cut is None:
            super().do_GET()
            return
        body = (Path(self.directory) / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True
        if cut == "reset":  # linger 0: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def log_message(self, format: str, *args) -> None:
        self.server.requests.append(self.path)


class LocalMirror:
    """A real HTTP server on 127.0.0.1 that plays the weights host."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Handler, directory=str(directory))
        )
        self.httpd.requests, self.httpd.cut_short = [], {}
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def serve(self, source: Path, name: str | None = None) -> Path:
        """Put a copy of `source` on the server under `name` (default: its own name)."""
        return Path(shutil.copyfile(source, self.directory / (name or source.name)))

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache per test, no user registry file, and a mirror that is down unless a test starts one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    monkeypatch.setenv(MIRROR_ENV, _closed_port_url())
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    return cache


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMirror]:
    directory = tmp_path / "served"
    directory.mkdir()
    server = LocalMirror(directory)
    monkeypatch.setenv(MIRROR_ENV, server.base_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference_resnet18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference package's random-init antialiased resnet18 (lpf4), official layout, hash-named."""
    torch.manual_seed(0)
    model = antialiased_cnns.resnet18(pretrained=False, filter_size=4)
    return save_checkpoint(model, tmp_path_factory.mktemp("checkpoints"), "my_resnet18_lpf4")


@pytest.fixture
def registered(reference_resnet18: Path) -> Iterator[WeightsEntry]:
    """A user entry for `reference_resnet18`, registered with the file's true hash."""
    entry = register(_entry_for(reference_resnet18, arch="resnet18", filter_size=4))
    yield entry
    unregister(entry.name)


def _entry_for(path: Path, arch: str, filter_size: int | None, name: str | None = None) -> WeightsEntry:
    return WeightsEntry(
        name=name or path.name.split("-")[0],
        url=FAR_AWAY + path.name,
        sha256_prefix=sha256_file(path)[:8],
        arch=arch,
        filter_size=filter_size,
        finetuned=True,
    )


def _load_pretrained_as(path: Path, arch: str, filter_size: int | None, name: str | None = None) -> torch.nn.Module:
    """`load_pretrained` of the mirror's file `path`, registered as `arch` (and `filter_size`) for this call only."""
    entry = register(_entry_for(path, arch=arch, filter_size=filter_size, name=name))
    try:
        return load_pretrained(entry.name, progress=False)
    finally:
        unregister(entry.name)


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- the registry -------------------------------------------------------------------------------


def test_registry_holds_every_checkpoint_of_the_reference_package_with_its_url_and_hash() -> None:
    modules = ("resnet", "alexnet", "vgg", "densenet", "mobilenet")
    urls = {
        name: url
        for module in modules
        for name, url in importlib.import_module(f"antialiased_cnns.{module}").model_urls.items()
    }
    paper = {entry.name: entry for entry in list_entries() if entry.source == "paper"}
    assert set(paper) == set(urls)
    for name, url in urls.items():
        entry = paper[name]
        assert entry.url == url
        assert entry.sha256_prefix == url.rsplit("-", 1)[1].removesuffix(".pth")
        assert entry.arch == name.split("_lpf")[0]
        assert entry.filter_size == int(name.split("_lpf")[1][0])
        assert entry.finetuned == name.endswith("_finetune")


def test_registry_carries_the_published_resnet50_numbers() -> None:
    finetuned, scratch = get_entry("resnet50_lpf4_finetune"), get_entry("resnet50_lpf4")
    assert (finetuned.accuracy, finetuned.consistency, finetuned.training) == (77.41, 91.32, "finetune")
    assert (scratch.accuracy, scratch.consistency, scratch.training) == (77.23, 91.29, "scratch")
    assert finetuned.sha256_prefix == "cad66808" and scratch.sha256_prefix == "994b528f"


def test_baseline_entry_is_torchvisions_resnet50_imagenet_weights() -> None:
    entry = get_entry("resnet50_baseline")
    assert entry.url == ResNet50_Weights.IMAGENET1K_V1.url
    assert entry.sha256_prefix == "0676ba61"
    assert (entry.arch, entry.filter_size, entry.antialiased) == ("resnet50", None, False)
    assert (entry.accuracy, entry.consistency) == (76.16, 89.20)


def test_entries_are_frozen() -> None:
    with pytest.raises(AttributeError):
        get_entry("resnet50_lpf4").url = "http://elsewhere/"


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownWeightsError, match="did you mean resnet50_lpf4_finetune") as caught:
        get_entry("resnet50_lpf4_fintune")
    with pytest.raises(UnknownWeightsError):
        fetch("no_such_weights")
    assert "\n" not in str(caught.value)


def test_register_refuses_builtin_names_duplicates_and_invalid_fields(registered: WeightsEntry) -> None:
    official = get_entry("resnet50_lpf4_finetune")
    with pytest.raises(RegistryError, match="built-in"):
        register(WeightsEntry(official.name, official.url, official.sha256_prefix, "resnet50", 4))
    with pytest.raises(RegistryError, match="already registered"):
        register(registered)
    assert register(registered, replace=True) is registered
    with pytest.raises(RegistryError, match="sha256_prefix"):
        WeightsEntry("mine", FAR_AWAY + "mine.pth", "not-hex!", "resnet50", 4)
    with pytest.raises(RegistryError, match="filter_size"):
        WeightsEntry("mine", FAR_AWAY + "mine.pth", "0123abcd", "resnet50", 9)
    with pytest.raises(RegistryError, match="url"):
        WeightsEntry("mine", "ftp://host/mine.pth", "0123abcd", "resnet50", 4)


def test_user_registry_file_adds_entries_that_fetch_from_the_local_mirror(
    mirror: LocalMirror, reference_resnet18: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.serve(reference_resnet18)
    user_file = tmp_path / "registry.json"
    user_file.write_text(json.dumps([{**_file_fields(reference_resnet18), "name": "team_resnet18"}]))
    monkeypatch.setenv(REGISTRY_ENV, str(user_file))
    assert "team_resnet18" in [entry.name for entry in list_entries()]
    path = fetch("team_resnet18", progress=False)
    assert path.read_bytes() == reference_resnet18.read_bytes()


def _file_fields(path: Path) -> dict:
    return {
        "name": path.name.split("-")[0],
        "url": FAR_AWAY + path.name,
        "sha256_prefix": sha256_file(path)[:8],
        "arch": "resnet18",
        "filter_size": 4,
    }


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot read a JSON registry"),
        ('{"name": "x"}', "expected a JSON list"),
        ('[{"name": "x", "url": "https://h/x-0123abcd.pth"}]', "missing keys"),
        ('[{"name": "x", "url": "https://h/x.pth", "sha256_prefix": "zz", "arch": "resnet50", "filter_size": 4}]',
         "sha256_prefix"),
        ('[{"name": "resnet50_lpf4", "url": "https://h/r-0123abcd.pth", "sha256_prefix": "0123abcd", '
         '"arch": "resnet50", "filter_size": 4}]', "already taken"),
    ],
    ids=["not-json", "not-a-list", "missing-keys", "bad-hash", "builtin-name"],
)  # fmt: skip
def test_invalid_user_registry_file_is_a_registry_error_naming_the_file(
    content: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file = tmp_path / "registry.json"
    user_file.write_text(content)
    monkeypatch.setenv(REGISTRY_ENV, str(user_file))
    with pytest.raises(RegistryError, match=problem) as caught:
        get_entry("resnet50_lpf4_finetune")
    assert str(user_file) in str(caught.value)


# --- fetching -----------------------------------------------------------------------------------


def test_fetch_from_local_mirror_downloads_verifies_and_shows_progress(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path, capfd
) -> None:
    mirror.serve(reference_resnet18)
    path = fetch(registered.name)
    assert path == isolated_env / reference_resnet18.name
    assert path.read_bytes() == reference_resnet18.read_bytes()
    assert _files(isolated_env) == [reference_resnet18.name]  # no temporary files left
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
    assert _files(isolated_env) == []


def test_truncated_file_on_local_mirror_raises_hash_mismatch_and_keeps_nothing(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    (mirror.directory / reference_resnet18.name).write_bytes(reference_resnet18.read_bytes()[:1_000_000])
    with pytest.raises(HashMismatchError, match="not kept"):
        fetch(registered.name, progress=False)
    assert _files(isolated_env) == []


def test_transfer_cut_short_by_local_mirror_is_reported_as_interrupted_and_keeps_nothing(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    mirror.serve(reference_resnet18)
    mirror.httpd.cut_short[reference_resnet18.name] = "close"
    with pytest.raises(WeightsUnavailableError, match=r"interrupted .*received \d+ bytes, expected \d+"):
        fetch(registered.name, progress=False)
    assert _files(isolated_env) == []


def test_connection_reset_by_local_mirror_is_reported_as_interrupted_and_keeps_nothing(
    mirror: LocalMirror, registered: WeightsEntry, reference_resnet18: Path, isolated_env: Path
) -> None:
    mirror.serve(reference_resnet18)
    mirror.httpd.cut_short[reference_resnet18.name] = "reset"
    with pytest.raises(WeightsUnavailableError, match="interrupted"):
        fetch(registered.name, progress=False)
    assert _files(isolated_env) == []


def test_missing_file_on_local_mirror_is_unavailable_with_url_and_what_to_do(
    mirror: LocalMirror, registered: WeightsEntry, isolated_env: Path
) -> None:
    with pytest.raises(WeightsUnavailableError) as caught:
        fetch(registered.name, progress=False)
    message = str(caught.value)
    assert f"{mirror.base_url}{registered.file_name}: HTTP 404" in message
    assert MIRROR_ENV in message and str(isolated_env / registered.file_name) in message
    assert _files(isolated_env) == []


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


# --- loading ------------------------------------------------------------------------------------


def test_save_checkpoint_writes_the_official_layout_under_a_hash_suffixed_name(tmp_path: Path) -> None:
    model = create_model("resnet18", 4)
    wrapped_state = {f"module.{key}": value for key, value in model.state_dict().items()}
    path = save_checkpoint(wrapped_state, tmp_path, "mine")
    assert path.name == f"mine-{sha256_file(path)[:8]}.pth"
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert list(raw) == ["state_dict"] and list(raw["state_dict"]) == list(model.state_dict())
    assert _files(tmp_path) == [path.name]


def test_reference_resnet50_lpf4_checkpoint_loads_strictly_through_load_pretrained(
    mirror: LocalMirror, tmp_path: Path
) -> None:
    reference = antialiased_cnns.resnet50(pretrained=False, filter_size=4).state_dict()
    assert len(reference) == 327 and sum(key.endswith(".filt") for key in reference) == 7
    path = save_checkpoint(reference, tmp_path, "reference_resnet50_lpf4")
    model = _load_pretrained_as(mirror.serve(path), arch="resnet50", filter_size=4)
    ours = model.state_dict()
    assert list(ours) == list(reference)
    assert all(torch.equal(ours[key], reference[key]) for key in reference)


def test_training_checkpoint_with_module_prefixes_and_optimizer_loads(tmp_path: Path) -> None:
    model = create_model("resnet18", 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    optimizer.step()
    checkpoint = {
        "epoch": 90,
        "arch": "resnet18_lpf4",
        "state_dict": {f"module.{key}": value for key, value in model.state_dict().items()},
        "best_acc1": torch.tensor(71.48),
        "optimizer": optimizer.state_dict(),
    }
    torch.save(checkpoint, tmp_path / "checkpoint.pth.tar")
    state = load_state_dict(tmp_path / "checkpoint.pth.tar")
    assert list(state) == list(model.state_dict())
    loaded = load_weights(create_model("resnet18", 4), tmp_path / "checkpoint.pth.tar")
    assert torch.equal(loaded.conv1.weight, model.conv1.weight)


def test_bare_baseline_state_dict_loads_into_the_baseline_through_load_pretrained(
    mirror: LocalMirror, tmp_path: Path
) -> None:
    baseline = torchvision.models.resnet18(weights=None)
    path = tmp_path / "bare"
    path.mkdir()
    raw = path / "tmp.pth"
    torch.save(baseline.state_dict(), raw)  # torchvision's own layout: a bare state_dict
    served = mirror.serve(raw, f"my_baseline-{sha256_file(raw)[:8]}.pth")
    model = _load_pretrained_as(served, arch="resnet18", filter_size=None)
    assert type(model) is torchvision.models.ResNet and isinstance(model.maxpool, torch.nn.MaxPool2d)
    assert torch.equal(model.fc.weight, baseline.fc.weight)


def test_file_of_another_architecture_names_missing_and_unexpected_keys(reference_resnet18: Path) -> None:
    with pytest.raises(ArchitectureMismatchError) as caught:
        load_weights(create_model("resnet34", 4), reference_resnet18)
    message = str(caught.value)
    assert "missing: layer1.2." in message and "more)" in message  # resnet34 has more blocks than resnet18
    with pytest.raises(ArchitectureMismatchError, match=r"unexpected: layer1\.0\.conv3\.weight"):
        load_weights(
            create_model("resnet18", 4),
            {**load_state_dict(reference_resnet18), "layer1.0.conv3.weight": torch.zeros(1)},
        )


def test_file_of_another_filter_size_names_the_blur_filters_of_another_shape(reference_resnet18: Path) -> None:
    with pytest.raises(
        ArchitectureMismatchError, match=r"of another shape: maxpool\.1\.filt \(64, 1, 4, 4\) vs \(64, 1, 3, 3\)"
    ):
        load_weights(create_model("resnet18", 3), reference_resnet18)


def test_load_pretrained_of_an_entry_with_the_wrong_arch_raises_architecture_mismatch(
    mirror: LocalMirror, reference_resnet18: Path
) -> None:
    mirror.serve(reference_resnet18)
    with pytest.raises(ArchitectureMismatchError, match="missing"):
        _load_pretrained_as(reference_resnet18, arch="resnet34", filter_size=4, name="mislabelled")


def test_unreadable_checkpoints_are_format_errors(reference_resnet18: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(reference_resnet18.read_bytes()[:100_000])
    text = tmp_path / "text.pth"
    text.write_text("not a checkpoint")
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"state_dict": {}, "args": argparse.Namespace(lr=0.1)}, unsafe)  # weights_only refuses
    no_tensors = tmp_path / "no_tensors.pth"
    torch.save({"epoch": 3, "arch": "resnet50"}, no_tensors)
    for path, problem in [
        (truncated, "not a readable PyTorch checkpoint"),
        (text, "not a readable PyTorch checkpoint"),
        (unsafe, "weights_only"),
        (no_tensors, "non-tensor entries: arch, epoch"),
        (tmp_path / "absent.pth", "does not exist"),
    ]:
        with pytest.raises(CheckpointFormatError, match=problem):
            load_state_dict(path)


# --- the command line ---------------------------------------------------------------------------


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
    user_file.write_text(json.dumps([_file_fields(reference_resnet18)]))
    monkeypatch.setenv(REGISTRY_ENV, str(user_file))
    name = _file_fields(reference_resnet18)["name"]

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
    entry = register(_entry_for(reference_resnet18, arch="resnet18", filter_size=3, name="my_resnet18_lpf3"))
    try:
        status = main([arg.format(checkpoint=reference_resnet18, directory=reference_resnet18.parent) for arg in args])
    finally:
        unregister(entry.name)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and problem in err and err.count("\n") == 1


def test_legacy_densenet_keys_of_the_published_files_load_strictly_through_load_pretrained(
    mirror: LocalMirror, tmp_path: Path
) -> None:
    """The paper's DenseNet files name dense-layer tensors `norm.1` (pre-1.0 torchvision); they still load."""
    reference = antialiased_cnns.densenet121(filter_size=4)
    legacy = {
        key.replace(".norm1.", ".norm.1.").replace(".conv1.", ".conv.1.").replace(".norm2.", ".norm.2."): value
        for key, value in reference.state_dict().items()
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    path = save_checkpoint(legacy, tmp_path, "my_densenet121_lpf4")
    model = _load_pretrained_as(mirror.serve(path), arch="densenet121", filter_size=4)
    assert torch.equal(
        model.state_dict()["features.denseblock1.denselayer1.norm1.weight"],
        legacy["features.denseblock1.denselayer1.norm.1.weight"],
    )


def _resnet18_with_a_densenet_like_head() -> torch.nn.Module:
    """A user's resnet18 whose extra module's keys look like legacy DenseNet keys (`denselayer1.norm.1.*`)."""
    model = create_model("resnet18", 4)
    model.denselayer1 = torch.nn.Module()
    model.denselayer1.norm = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm2d(8))
    return model


def test_densenet_key_hook_runs_only_for_densenet_checkpoints(tmp_path: Path) -> None:
    model = _resnet18_with_a_densenet_like_head()
    torch.nn.init.uniform_(model.denselayer1.norm[1].weight)
    path = save_checkpoint(model, tmp_path, "resnet18_with_head")
    assert "denselayer1.norm.1.weight" in load_state_dict(path)

    for arch in ("resnet18", None):  # a zoo resnet, and a model named by no architecture
        loaded = load_weights(_resnet18_with_a_densenet_like_head(), path, arch=arch)
        assert torch.equal(loaded.denselayer1.norm[1].weight, model.denselayer1.norm[1].weight)
    # Read as a DenseNet checkpoint, the same keys are renamed: proof that the hook is chosen by architecture.
    with pytest.raises(ArchitectureMismatchError, match=r"unexpected: denselayer1\.norm1\.weight"):
        load_weights(_resnet18_with_a_densenet_like_head(), path, arch="densenet121")


def test_legacy_densenet_keys_are_not_renamed_without_the_architecture() -> None:
    state = create_model("densenet121", 4).state_dict()
    legacy = {key.replace(".norm1.", ".norm.1."): value for key, value in state.items()}
    with pytest.raises(ArchitectureMismatchError, match=r"unexpected: features\.denseblock1\.denselayer1\.norm\.1\."):
        load_weights(create_model("densenet121", 4), legacy)
    loaded = load_weights(create_model("densenet121", 4), legacy, arch="densenet121")
    assert torch.equal(
        loaded.state_dict()["features.denseblock1.denselayer1.norm1.weight"],
        state["features.denseblock1.denselayer1.norm1.weight"],
    )
