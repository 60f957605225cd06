"""Helpers of the target tests' servers: the stock-handler model archive, waiting for a server, stopping one, the
probe service with PROBE_TARGETS."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import torch

from antialiased.labels import IMAGENET_CATEGORIES
from launcher.ports import free_port
from launcher.probe_service import PROJECT_ROOT, ServiceProcess
from launcher.torchserve import TorchServe
from service.views import encode_view
from tests.service.targets import stock_model
from tests.service.targets.kserve_venv import kserve_python
from tests.support.service import start_test_service, torchserve_env

FC_SCALE = 20.0  # random weights give near-uniform probabilities; a larger classifier layer spreads them

STOCK_MODEL = "stock_resnet18"
SLOW_TIMEOUT_S = 1.0


def stock_network() -> torch.nn.Module:
    """The random-weight (seeded) ResNet-18 of the stock model, in eval mode."""
    torch.manual_seed(3)
    network = stock_model.StockResNet18()
    with torch.no_grad():
        network.fc.weight.mul_(FC_SCALE)
    return network.eval()


def build_stock_archive(name: str, store: Path) -> Path:
    """`<store>/<name>.mar` with TorchServe's stock image_classifier handler, the ResNet-18 of `stock_network` and
    an ImageNet index_to_name.json; returns the weights file."""
    weights = store / "stock_resnet18.pth"
    torch.save(stock_network().state_dict(), weights)
    labels = store / "index_to_name.json"
    labels.write_text(json.dumps({str(index): label for index, label in enumerate(IMAGENET_CATEGORIES)}))
    command = [sys.executable, "-m", "model_archiver.model_packaging", "--model-name", name, "--version", "1.0",
               "--model-file", stock_model.__file__, "--serialized-file", str(weights), "--handler", "image_classifier",
               "--extra-files", str(labels), "--export-path", str(store), "--force"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "TMPDIR": str(store)})
    return weights


def stock_answers(client: httpx.Client, server, model: str) -> bool:
    """Whether the stock model classifies a small grey PNG."""
    image = encode_view(np.full((64, 64, 3), 128, np.uint8), "PNG")
    return client.post(f"{server.inference_url}/predictions/{model}", content=image).status_code == 200


def wait_for_http(
    check: Callable[[httpx.Client], bool],
    timeout_s: float,
    log: Callable[[], str],
    process: subprocess.Popen | None = None,
) -> None:
    """Poll `check` until it is true; fail with the server's log when it exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log()}")
            with contextlib.suppress(httpx.HTTPError):
                if check(client):
                    return
            time.sleep(0.5)
    raise RuntimeError(f"the server did not answer within {timeout_s:g} s:\n{log()}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def kserve_model_server(
    script: Path, args: list[str], ready_model: str, log: Path, timeout_s: float, python: Path | None = None
) -> Iterator[str]:
    """KServe's model server running `script` with `python` (default: the KServe venv's), `HTTP_PORT GRPC_PORT
    *args` (free ports): its base URL once the model `ready_model` is ready; stopped on exit."""
    http_port, grpc_port = free_port(), free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen([str(python or kserve_python()), str(script), str(http_port), str(grpc_port), *args],
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_for_http(lambda client: client.get(f"{url}/v2/models/{ready_model}/ready").status_code == 200, timeout_s,
                      lambda: log.read_text(errors="replace")[-3000:], process)  # fmt: skip
        yield url
    finally:
        stop(process)


@contextlib.contextmanager
def running_misbehaving_server(log: Path) -> Iterator[str]:
    """tests/service/targets/misbehaving.py in a process of its own (output to `log`): its URL while the block runs."""
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.service.targets.misbehaving", str(port)],
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(lambda client: client.get(f"{url}/docs").status_code == 200, 60, log.read_text, process)
        yield url
    finally:
        stop(process)


def start_target_service(torchserve: TorchServe, targets: list[dict], log: Path, **env: str) -> ServiceProcess:
    """The probe service beside the session's TorchServe with `targets` as PROBE_TARGETS."""
    return start_test_service(
        torchserve.inference_url, log, **torchserve_env(torchserve), PROBE_TARGETS=json.dumps(targets), **env
    )
