"""Archives, the weights path of the build, and the hardened TorchServe configuration."""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import torch
import yaml

from antialiased.command_line import USAGE_ERROR
from antialiased.models import create_model
from antialiased.serving.default_models import DEFAULT_MODELS
from antialiased.weights import WeightsUnavailableError, save_checkpoint, sha256_file
from antialiased.weights.fetch import MIRROR_ENV
from antialiased.weights.registry import REGISTRY_ENV
from archives.archive import build_archive
from archives.build import MODELS_ENV, add_serving_options, build_archives, check_runtime_installed, served_models
from archives.build import main as build_main
from launcher.ports import free_port
from launcher.torchserve import start_torchserve
from launcher.torchserve_config import Ports, write_server_config
from tests.support.models import circular_invariant
from tests.support.models.circular_invariant import CircularInvariant, model_spec
from tests.support.served_models import CIRCULAR_MODEL
from tests.support.serving import encode, photo


def _properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def circular_checkpoint(tmp_path_factory) -> Path:
    return save_checkpoint(CircularInvariant(), tmp_path_factory.mktemp("weights"), "circular")


def test_archive_holds_handler_library_weights_and_model_config(tmp_path, circular_checkpoint):
    archive = build_archive(
        "circ",
        store=tmp_path,
        weights_path=circular_checkpoint,
        model=model_spec(),
        weights_name="circular_weights",
        untrained=False,
        overrides={"batchSize": 4, "handler": {"precision": "float16"}},
    )
    with zipfile.ZipFile(archive) as mar:
        names = set(mar.namelist())
        manifest = json.loads(mar.read("MAR-INF/MANIFEST.json"))
        config = yaml.safe_load(mar.read("model-config.yaml"))
    assert manifest["model"]["handler"] == "image_classifier.py"
    assert manifest["model"]["serializedFile"] == circular_checkpoint.name
    shipped = {"antialiased/images.py", "antialiased/data/imagenet_categories.txt", "handlers/requests.py"}
    assert {*shipped, circular_checkpoint.name} <= names
    assert not any("__pycache__" in name for name in names)
    assert config["batchSize"] == 4 and config["maxBatchDelay"] > 0 and config["minWorkers"] == 1
    assert config["handler"]["precision"] == "float16" and config["handler"]["device"] == "auto"
    assert config["handler"]["weights"] == {
        "name": "circular_weights",
        "sha256": sha256_file(circular_checkpoint),
        "untrained": False,
    }


def test_config_properties_is_hardened(tmp_path):
    store = tmp_path / "store"
    path = write_server_config(tmp_path / "config.properties", model_store=store, models=["a", "b"], ports=Ports())
    properties = _properties(path)
    assert properties["inference_address"] == "http://127.0.0.1:8080"
    assert properties["management_address"] == "http://127.0.0.1:8081"
    assert properties["metrics_address"] == "http://127.0.0.1:8082"
    assert properties["grpc_inference_address"] == properties["grpc_management_address"] == "127.0.0.1"
    assert properties["enable_model_api"] == "false"
    allowed = re.compile(properties["allowed_urls"])
    assert allowed.fullmatch(f"file://{store.resolve()}/model.mar")
    assert not allowed.fullmatch("http://127.0.0.1/model.mar") and not allowed.fullmatch("file:///etc/model.mar")
    assert properties["load_models"] == "a=a.mar,b=b.mar"
    assert properties["metrics_mode"] == "prometheus" and properties["model_metrics_auto_detect"] == "true"
    assert properties["disable_token_authorization"] == "true"  # loopback only
    assert int(properties["max_request_size"]) > 20 * 1024 * 1024


def test_token_authorization_is_on_when_inference_leaves_loopback(tmp_path):
    for host in ("0.0.0.0", "10.1.2.3", "::"):
        path = write_server_config(tmp_path / "c.properties", model_store=tmp_path, models=["a"], inference_host=host)
        properties = _properties(path)
        assert properties["disable_token_authorization"] == "false", host
        assert properties["management_address"] == "http://127.0.0.1:8081"


def test_number_of_gpu_is_set_only_when_given(tmp_path):
    default = _properties(write_server_config(tmp_path / "a.properties", model_store=tmp_path, models=["a"]))
    capped = _properties(
        write_server_config(tmp_path / "b.properties", model_store=tmp_path, models=["a"], number_of_gpu=1)
    )
    assert "number_of_gpu" not in default  # TorchServe counts the GPUs itself
    assert capped["number_of_gpu"] == "1"


@pytest.mark.serving
@pytest.mark.slow
def test_model_registration_is_refused(torchserve):
    response = httpx.post(f"{torchserve.management_url}/models", params={"url": "http://127.0.0.1:9/x.mar"}, timeout=10)
    assert response.status_code >= 400
    listed = httpx.get(f"{torchserve.management_url}/models", timeout=10).json()
    assert sorted(model["modelName"] for model in listed["models"]) == sorted(torchserve.models)


def test_build_selects_any_registry_weights_and_fetches_them(tmp_path, monkeypatch):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(create_model("resnet18", 3), tmp_path / "published", "my_resnet18_lpf3")
    entry = {
        "name": "my_resnet18_lpf3",
        "url": checkpoint.as_uri(),
        "sha256_prefix": checkpoint.stem.rsplit("-", 1)[1],
        "arch": "resnet18",
        "filter_size": 3,
    }
    (tmp_path / "registry.json").write_text(json.dumps([entry]))
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "registry.json"))
    (built,) = build_archives(tmp_path / "store", {"mine": "my_resnet18_lpf3"}, weights_dir=tmp_path / "cache")
    assert (built.name, built.untrained) == ("mine", False)
    with zipfile.ZipFile(built.path) as mar:
        config = yaml.safe_load(mar.read("model-config.yaml"))
    assert config["handler"]["weights"] == {
        "name": "my_resnet18_lpf3",
        "sha256": sha256_file(checkpoint),
        "untrained": False,
    }
    assert config["handler"]["model"]["kwargs"] == {"arch": "resnet18", "filter_size": 3}


def test_build_offline_refuses_unless_untrained_weights_are_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{free_port()}/")  # nothing listens: like being offline
    models = {"small": "resnet18_lpf4_finetune"}
    with pytest.raises(WeightsUnavailableError):
        build_archives(tmp_path / "store", models, weights_dir=tmp_path / "cache", progress=False)
    (built,) = build_archives(
        tmp_path / "store", models, weights_dir=tmp_path / "cache", untrained_fallback=True, progress=False
    )
    assert built.untrained
    with zipfile.ZipFile(built.path) as mar:
        weights = yaml.safe_load(mar.read("model-config.yaml"))["handler"]["weights"]
    assert weights["name"] is None and weights["untrained"] is True


def test_untrained_fallback_writes_nothing_into_the_weights_folder(tmp_path, monkeypatch):
    """The weights folder may be a read-only volume (Kubernetes): the random weights go beside the archives."""
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{free_port()}/")  # nothing listens: like being offline
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    models = {"small": "resnet18_lpf4_finetune"}
    (built,) = build_archives(
        tmp_path / "store", models, weights_dir=weights_dir, untrained_fallback=True, progress=False
    )
    assert built.untrained and built.path.is_file()
    assert list(weights_dir.iterdir()) == []


@pytest.mark.serving
@pytest.mark.slow
def test_token_authorization_requires_the_key(tmp_path, circular_checkpoint):
    store = tmp_path / "store"
    build_archive(CIRCULAR_MODEL, store=store, weights_path=circular_checkpoint, model=model_spec(),
                  weights_name=None, untrained=True, extra_files=[Path(circular_invariant.__file__)])  # fmt: skip
    log = tmp_path / "ts.out"
    with start_torchserve(store, [CIRCULAR_MODEL], tmp_path / "ts", token_auth=True, log_file=log) as ts:
        ts.wait_until_ready(180)  # uses the key from key_file.json
        url = f"{ts.inference_url}/predictions/{CIRCULAR_MODEL}"
        without_key = httpx.post(url, content=encode(photo("coffee")), timeout=30)
        assert without_key.status_code == 400, without_key.text  # TorchServe 0.12 answers 400, not 401
        assert "token" in without_key.text.lower(), without_key.text
        with_key = httpx.post(url, content=encode(photo("coffee")), headers=ts.headers(), timeout=30)
        assert with_key.status_code == 200


def test_the_served_models_come_from_the_options_else_torchserve_models(monkeypatch, capsys):
    """The containers' setting TORCHSERVE_MODELS names the models where no --model is given; a malformed one is
    refused on one line before anything is built."""
    parser = argparse.ArgumentParser()
    add_serving_options(parser)
    monkeypatch.setenv(MODELS_ENV, "mine=my_model, other=other_model")
    assert served_models(parser.parse_args([])) == {"mine": "my_model", "other": "other_model"}
    assert served_models(parser.parse_args(["--model", "x=y"])) == {"x": "y"}
    monkeypatch.setenv(MODELS_ENV, "")
    assert served_models(parser.parse_args([])) == DEFAULT_MODELS
    monkeypatch.setenv(MODELS_ENV, "mine")
    assert build_main(["--store", "unused"]) == USAGE_ERROR
    assert capsys.readouterr().err == "error: TORCHSERVE_MODELS: expected NAME=WEIGHTS, got 'mine'\n"


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_runtime_whose_packages_are_missing_is_refused_before_any_download(monkeypatch, capsys, tmp_path, runtime):
    """handler.runtime onnxruntime|openvino where this Python lacks the runtime: one line naming the package and
    the requirements file, before any weights are fetched (workers would otherwise fail to load, retried)."""
    monkeypatch.setitem(sys.modules, runtime, None)  # the package, as Python sees it, is not installed
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{free_port()}/")  # nothing listens: a download would fail
    store, weights = tmp_path / "store", tmp_path / "weights"
    options = ["--store", str(store), "--weights-dir", str(weights), "--model", "m=resnet50_lpf4"]
    assert build_main([*options, "--runtime", runtime]) == USAGE_ERROR
    assert capsys.readouterr().err == (
        f"error: handler.runtime {runtime}: exporting to ONNX and running it on {runtime} needs {runtime}, which "
        "this Python lacks: pip install -r requirements-export.txt (the TorchServe image has them)\n"
    )
    assert not store.exists() and not weights.exists()
    entrypoint = _torchserve_entrypoint()
    assert entrypoint.main(["--runtime", runtime]) == 2
    assert f"error: handler.runtime {runtime}: " in capsys.readouterr().err


def test_the_runtimes_are_installed_where_requirements_export_is():
    """This venv has requirements-export.txt (make setup-dev), as the TorchServe image has: nothing is refused."""
    for runtime in ("onnxruntime", "openvino"):
        check_runtime_installed({"handler": {"runtime": runtime}})
    check_runtime_installed(None)  # torch, model-config.yaml's default, needs nothing more


def _torchserve_entrypoint() -> ModuleType:
    """docker/torchserve_entrypoint.py (a script, not a package module), loaded from its file."""
    path = Path(__file__).parents[2] / "docker" / "torchserve_entrypoint.py"
    spec = importlib.util.spec_from_file_location("torchserve_entrypoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
