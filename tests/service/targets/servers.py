"""Servers this project did not write, run for real, and the probe service pointed at them (session fixtures, a
plugin of the root conftest: the target tests and the docs tests both use them):

- `stock_torchserve`: a second TorchServe serving a random-weight torchvision ResNet-18 with TorchServe's stock
  `image_classifier` handler (it imports captum: see requirements-dev.txt);
- `kserve_server`: the `kserve` package's model server hosting tiny_classifier.py (beside this file) in three input
  forms (kserve_server.py), run from its own venv (kserve's pins clash with ours, see kserve_venv.py);
- `misbehaving_server`: a real HTTP server that fails in one way per model name (misbehaving.py);
- `target_service`: the probe service with all of them as PROBE_TARGETS, beside the session's own TorchServe.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.ports import free_port
from launcher.probe_service import ServiceProcess
from launcher.torchserve import TorchServe, start_torchserve
from tests.service.targets import tiny_classifier
from tests.support.targets import (
    SLOW_TIMEOUT_S,
    STOCK_MODEL,
    build_stock_archive,
    kserve_model_server,
    running_misbehaving_server,
    start_target_service,
    stock_answers,
    wait_for_http,
)


@pytest.fixture(scope="session")
def stock_torchserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TorchServe, Path]]:
    """TorchServe with the stock image_classifier handler, and the weights file its model loads."""
    store = tmp_path_factory.mktemp("stock_store")
    weights = build_stock_archive(STOCK_MODEL, store)
    workdir = tmp_path_factory.mktemp("stock_torchserve")
    server = start_torchserve(store, [STOCK_MODEL], workdir, log_file=workdir / "torchserve.out")
    try:
        wait_for_http(lambda client: stock_answers(client, server, STOCK_MODEL), 240, server.log_tail)
        yield server, weights
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kserve_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The KServe model server's base URL, once its three models are ready."""
    log = tmp_path_factory.mktemp("kserve") / "kserve.log"
    with kserve_model_server(Path(__file__).with_name("kserve_server.py"), [], "tiny_png", log, 120) as url:
        yield url


@pytest.fixture(scope="session")
def misbehaving_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_misbehaving_server(tmp_path_factory.mktemp("misbehaving") / "server.log") as url:
        yield url


def target_settings(stock: TorchServe, kserve: str, misbehaving: str) -> list[dict]:
    """PROBE_TARGETS: the stock TorchServe model, the three KServe models, and the misbehaving ones."""
    tiny = {"kind": "oip", "url": kserve, "labels": tiny_classifier.LABELS, "output": "probabilities"}
    broken = {"kind": "oip", "url": misbehaving, "labels": tiny_classifier.LABELS}
    return [
        {"name": "stock", "kind": "torchserve", "url": stock.inference_url, "model": STOCK_MODEL},
        {**tiny, "name": "tiny_fp32", "input": "input", "datatype": "FP32", "layout": "NCHW"},
        {**tiny, "name": "tiny_uint8", "input": "pixels", "datatype": "UINT8", "layout": "NHWC", "max_batch_size": 4},
        {**tiny, "name": "tiny_png", "input": "image", "datatype": "BYTES", "max_batch_size": 5, "binary_data": False},
        *({**broken, "name": name} for name in ("error", "not_json", "wrong_classes", "no_output", "lying_size")),
        {**broken, "name": "slow", "timeout_s": SLOW_TIMEOUT_S},
        {**broken, "name": "unreachable", "url": f"http://127.0.0.1:{free_port()}"},
        {"name": "unknown_label", "kind": "torchserve", "url": misbehaving},
    ]


@pytest.fixture(scope="session")
def target_service(
    torchserve: TorchServe,
    stock_torchserve: tuple[TorchServe, Path],
    kserve_server: str,
    misbehaving_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """The probe service with our models, the stock TorchServe model, the KServe models and the broken targets."""
    targets = target_settings(stock_torchserve[0], kserve_server, misbehaving_server)
    log = tmp_path_factory.mktemp("target_service") / "service.log"
    with start_target_service(torchserve, targets, log, PROBE_MAX_COMPARE_MODELS="6") as running:
        yield running
