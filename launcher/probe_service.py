"""Run the probe service as a child process (`python -m service`) and wait until it answers /healthz.

For `make run`, the tests and the benchmark: settings are passed as `PROBE_*` environment variables.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from launcher.ports import client_host, free_port, log_tail

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0


class ServiceStartError(RuntimeError):
    """The service exited or did not answer /healthz in time; the message has its output."""


@dataclass
class ServiceProcess:
    """A running probe service and its base URL."""

    process: subprocess.Popen
    url: str
    log_file: Path | None = None
    _log: IO | None = field(default=None, repr=False)

    def wait_until_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceStartError(f"the probe service exited with {self.process.returncode}\n{self._tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise ServiceStartError(f"the probe service did not answer /healthz in {timeout:.0f} s\n{self._tail()}")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after `timeout`; return the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        return self.process.returncode

    def _tail(self) -> str:
        return log_tail(self.log_file, 40)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_service(
    torchserve_url: str,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    wait: bool = True,
) -> ServiceProcess:
    """Start the probe service in front of `torchserve_url` (other settings in `env` as PROBE_* variables)."""
    port = port or free_port(host)
    environment = {
        **os.environ,
        **(env or {}),
        "PROBE_HOST": host,
        "PROBE_PORT": str(port),
        "PROBE_TORCHSERVE_URL": torchserve_url,
    }
    log = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115 - closed by ServiceProcess.stop
    process = subprocess.Popen(
        [sys.executable, "-m", "service"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    service = ServiceProcess(process, f"http://{client_host(host)}:{port}", log_file, log)
    if wait:
        try:
            service.wait_until_healthy()
        except ServiceStartError:
            service.stop()
            raise
    return service
