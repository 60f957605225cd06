"""What the container tests share: the run's id, the served models, the compose stack's handle, the readiness photo,
waiting until the services answer, and which addresses a container listens on."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.podman import CommandError, podman

RUN_ID = uuid.uuid4().hex[:8]
TARGETS = ("torchserve", "probe")
READY_TIMEOUT_S = 420.0
KEY_FILE = "/var/lib/antialiased/torchserve/key_file.json"  # TorchServe's, in the torchserve-state volume
MODELS = ("resnet50_lpf4", "resnet50")


@dataclass(frozen=True)
class Stack:
    """The running compose project: its published URLs and its containers by service."""

    project: str
    inference_url: str
    probe_url: str
    containers: dict[str, str]

    def inference_headers(self) -> dict[str, str]:
        """The bearer key a client needs (token authorization is on), read from TorchServe's key file."""
        keys = json.loads(podman("exec", self.containers["torchserve"], "cat", KEY_FILE).stdout)
        return {"Authorization": f"Bearer {keys['inference']['key']}"}


def readiness_photo() -> bytes:
    return (Path(__file__).resolve().parents[2] / "service" / "static" / "samples" / "chelsea.jpg").read_bytes()


def wait_until_serving(
    inference_url: str, probe_url: str, headers: Callable[[], dict[str, str]], give_up: Callable[[], str | None]
) -> None:
    """Until a prediction through the inference port (with `headers()`), then the probe's /readyz, answer 200;
    AssertionError with `give_up()`'s reason as soon as it has one (a deadline passed, a container exited)."""
    checks = [
        lambda client: client.post(
            f"{inference_url}/predictions/{MODELS[0]}", content=readiness_photo(), headers=headers()
        ),
        lambda client: client.get(f"{probe_url}/readyz"),
    ]
    with httpx.Client(timeout=30) as client:
        while checks:
            with contextlib.suppress(httpx.HTTPError, CommandError):  # the key file appears once TorchServe runs
                if checks[0](client).status_code == 200:
                    checks.pop(0)
                    continue
            reason = give_up()
            if reason is not None:
                raise AssertionError(reason)
            time.sleep(2)


LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def listening(container: str) -> dict[int, set[str]]:
    """Port -> the local addresses (hex, as /proc/net/tcp{,6} writes them) it listens on inside `container`."""
    table = podman("exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
    ports: dict[int, set[str]] = {}
    for line in table.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == LISTEN:
            address, port = fields[1].split(":")
            ports.setdefault(int(port, 16), set()).add(address)
    return ports
