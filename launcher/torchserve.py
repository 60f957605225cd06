"""Run TorchServe over a model store: start it as a child process, wait for a real prediction, stop it.

TorchServe's /ping answers "Healthy" even when every worker crashed at import, so readiness here is a
real prediction from every model. Each instance gets a private working directory (logs, temporary
files, worker sockets, pid file), so several instances can run side by side on one machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from antialiased.errors import ApiError
from antialiased.serving.handler_client import NO_RETRIES, ClientOptions, HandlerClient, prediction_request
from antialiased.serving.readiness import prediction_problem, readiness_image
from antialiased.serving.torchserve_keys import api_headers
from launcher.ports import client_host, free_port, log_tail
from launcher.torchserve_config import (
    JOB_QUEUE_SIZE,
    TOKEN_EXPIRATION_MIN,
    Ports,
    key_file_of,
    resolve_token_auth,
    write_server_config,
)

READY_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0
JAVA_MISSING = "TorchServe needs Java 17: install it (openjdk-17-jre-headless) or set JAVA_HOME"


class TorchServeError(RuntimeError):
    """TorchServe did not start, exited, or did not answer a prediction in time; the message has its log tail."""


@dataclass
class TorchServe:
    """A running TorchServe child process and where to reach it."""

    process: subprocess.Popen
    workdir: Path
    models: tuple[str, ...]
    inference_url: str
    management_url: str
    metrics_url: str
    token_auth: bool
    token_expiration_min: float = TOKEN_EXPIRATION_MIN
    _log: IO | None = field(default=None, repr=False)

    @property
    def key_file(self) -> Path | None:
        """TorchServe's key file when token authorization is on."""
        return key_file_of(self.workdir, self.token_auth)

    def headers(self) -> dict[str, str]:
        """Headers an inference request needs (the bearer key when token authorization is on)."""
        return api_headers(self.key_file)

    def workers(self, model: str) -> list[dict]:
        """The workers of `model` as TorchServe's management API describes them (id, pid, status, ...)."""
        response = httpx.get(
            f"{self.management_url}/models/{model}", headers=api_headers(self.key_file, "management"), timeout=10.0
        )
        response.raise_for_status()
        return [worker for entry in response.json() for worker in entry["workers"]]

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 80) -> str:
        """The last lines of TorchServe's own log and of the model workers' log."""
        tails = {name: log_tail(self.workdir / "logs" / name, lines) for name in ("ts_log.log", "model_log.log")}
        return "\n".join(f"--- {name}\n{tail}" for name, tail in tails.items() if tail) or "(no TorchServe log yet)"

    def predict(
        self, model: str, image: bytes, timeout: float = 60.0, purpose: str | None = None, **fields: str
    ) -> httpx.Response:
        """TorchServe's answer to `image` as multipart field `data` (plus form `fields`, sent as they are) at
        /predictions/<model>, not retried (a key renewed under the request is read again once). `purpose` marks a
        synthetic prediction (`healthcheck`)."""
        options = ClientOptions(self.inference_url, NO_RETRIES, timeout, timeout, headers=self.headers)
        with HandlerClient(options) as client:
            return client.post(model, prediction_request(image, purpose=purpose, fields=fields))

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until every model answers a real prediction; raise TorchServeError if it exits or times out."""
        deadline = time.monotonic() + timeout
        image = readiness_image()
        pending = list(self.models)
        while pending:
            if not self.running():
                raise TorchServeError(f"TorchServe exited with status {self.process.returncode}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TorchServeError(f"no prediction from {', '.join(pending)} in {timeout:.0f} s\n{self.log_tail()}")
            with contextlib.suppress(ApiError, OSError, ValueError, KeyError):
                response = self.predict(pending[0], image, timeout=30.0, purpose="healthcheck")
                if prediction_problem(response.status_code, response.content) is None:
                    pending.pop(0)
                    continue
            time.sleep(0.5)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Stop TorchServe and its workers (SIGTERM, then SIGKILL after `timeout`); return the exit status."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # The Java frontend leaves its workers to the SIGTERM of the group; make sure none outlives it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        return self.process.returncode

    def __enter__(self) -> TorchServe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def java_available() -> bool:
    """Whether TorchServe's launcher finds a Java: $JAVA_HOME/bin/java, or java on the PATH."""
    java_home = os.environ.get("JAVA_HOME")
    return Path(java_home, "bin", "java").is_file() if java_home else shutil.which("java") is not None


def free_ports() -> Ports:
    """Free ports for every listener of one instance."""
    return Ports(*(free_port() for _ in range(5)), worker=free_port())


def start_torchserve(
    model_store: Path,
    models: Sequence[str],
    workdir: Path,
    *,
    inference_host: str = "127.0.0.1",
    ports: Ports | None = None,
    token_auth: bool | None = None,
    metrics_host: str = "127.0.0.1",
    number_of_gpu: int | None = None,
    job_queue_size: int = JOB_QUEUE_SIZE,
    token_expiration_min: float = TOKEN_EXPIRATION_MIN,
    log_file: Path | None = None,
) -> TorchServe:
    """Start TorchServe (foreground, own process group) serving `models` of `model_store`; do not wait.

    Output goes to `log_file` when given, else to this process's stdout. Call `wait_until_ready`.
    `number_of_gpu`, `job_queue_size`, `token_expiration_min`: see `write_server_config`. The working directory
    is private to this user (mode 0700): it holds the worker sockets and, with token authorization, the key file.
    """
    if not java_available():
        raise TorchServeError(JAVA_MISSING)
    ports = ports or free_ports()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o700)
    for sub in ("tmp", "logs"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    config = write_server_config(
        workdir / "config.properties",
        model_store=model_store,
        models=models,
        inference_host=inference_host,
        ports=ports,
        token_auth=token_auth,
        metrics_host=metrics_host,
        number_of_gpu=number_of_gpu,
        job_queue_size=job_queue_size,
        token_expiration_min=token_expiration_min,
    )
    env = {
        **os.environ,
        "TEMP": str(workdir / "tmp"),  # Java's temporary directory: holds the worker sockets
        "TMPDIR": str(workdir / "tmp"),  # the launcher's pid file
        "LOG_LOCATION": str(workdir / "logs"),
        "METRICS_LOCATION": str(workdir / "logs"),
    }
    command = [
        sys.executable,
        "-m",
        "ts.model_server",
        "--start",
        "--foreground",
        "--ncs",
        "--ts-config",
        str(config),
        "--model-store",
        str(Path(model_store).resolve()),
    ]
    log = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115 - closed by TorchServe.stop
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT if log else None, start_new_session=True
    )
    return TorchServe(
        process=process,
        workdir=workdir,
        models=tuple(models),
        inference_url=f"http://{client_host(inference_host)}:{ports.inference}",
        management_url=f"http://127.0.0.1:{ports.management}",
        metrics_url=f"http://{client_host(metrics_host)}:{ports.metrics}",
        token_auth=resolve_token_auth(inference_host, token_auth),
        token_expiration_min=token_expiration_min,
        _log=log,
    )
