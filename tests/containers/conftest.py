"""Session fixtures of the container tests: the images, built once, and the compose stack, started once.

`images` builds both targets of docker/Dockerfile from the local Debian base image (debootstrapped on the
first run, then cached in the project's podman storage) and removes them, and every intermediate layer
the build made, at the end. `stack` runs docker/compose.yaml with the CPU override under podman-compose,
opted into untrained weights (no network for the official ones here), on free 127.0.0.1 ports, and
removes its containers, network and volumes at the end.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from launcher.ports import free_port
from tests.support.containers import MODELS, READY_TIMEOUT_S, RUN_ID, TARGETS, Stack, wait_until_serving
from tests.support.podman import (
    BASE_IMAGE,
    CommandError,
    build_image,
    compose,
    ensure_base_image,
    image_ids,
    inspect,
    podman,
)


@pytest.fixture(scope="session")
def images() -> Iterator[dict[str, str]]:
    """Target -> tag of the freshly built images; removed with their build layers afterwards."""
    base_seconds = ensure_base_image()
    before = image_ids()
    tags = {target: f"localhost/antialiased-test/{target}:{RUN_ID}" for target in TARGETS}
    try:
        for target, tag in tags.items():
            seconds = build_image(target, tag)
            print(f"built {tag} in {seconds:.0f} s (base image: {base_seconds:.0f} s)")
        yield tags
    finally:
        for tag in tags.values():
            podman("rmi", "--force", tag, check=False)
        base = inspect("image", BASE_IMAGE)["Id"]
        for image in image_ids() - before - {base}:
            podman("rmi", "--force", image, check=False)


def _containers(project: str) -> dict[str, str]:
    """Service -> container name of a compose project."""
    listing = podman(
        "ps",
        "--all",
        "--filter",
        f"label=io.podman.compose.project={project}",
        "--format",
        '{{.Names}} {{index .Labels "com.docker.compose.service"}}',
    )
    return {service: name for name, service in (line.split() for line in listing.stdout.splitlines() if line)}


def _logs(containers: dict[str, str]) -> str:
    parts = []
    for service, name in containers.items():
        result = podman("logs", "--tail", "40", name, check=False)
        parts.append(f"--- {service} ({name})\n{result.stdout}{result.stderr}")
    return "\n".join(parts)


def _wait_until_ready(stack: Stack) -> None:
    """Both services of the compose stack answer a real request."""
    deadline = time.monotonic() + READY_TIMEOUT_S

    def give_up() -> str | None:
        exited = [
            name for name in stack.containers.values() if inspect("container", name)["State"]["Status"] == "exited"
        ]
        if not exited and time.monotonic() < deadline:
            return None
        reason = f"exited: {', '.join(exited)}" if exited else f"not ready after {READY_TIMEOUT_S:.0f} s"
        return f"compose stack {reason}\n{_logs(stack.containers)}"

    wait_until_serving(stack.inference_url, stack.probe_url, stack.inference_headers, give_up)


@pytest.fixture(scope="session")
def stack(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """docker/compose.yaml + compose.cpu.yaml under podman-compose, ready (a prediction and /readyz answered)."""
    project = f"antialiased-test-{RUN_ID}"
    settings = tmp_path_factory.mktemp("compose") / "stack.env"
    settings.write_text(f"ALLOW_UNTRAINED_WEIGHTS=1\nPROBE_MODELS={','.join(MODELS)}\n")
    inference_port, probe_port = free_port(), free_port()
    env = {
        "IMAGE_REPOSITORY": "localhost/antialiased-test",
        "IMAGE_TAG": RUN_ID,
        "ANTIALIASED_ENV_FILE": str(settings),
        "PUBLISH_INFERENCE_PORT": str(inference_port),
        "PUBLISH_PROBE_PORT": str(probe_port),
    }
    try:
        compose(project, "up", "--detach", "--no-build", env=env, timeout=300)
        running = Stack(
            project,
            f"http://127.0.0.1:{inference_port}",
            f"http://127.0.0.1:{probe_port}",
            _containers(project),
        )
        _wait_until_ready(running)
        yield running
    finally:
        with contextlib.suppress(CommandError):
            compose(project, "down", "--volumes", "--timeout", "10", env=env, timeout=180)
        for name in _containers(project).values():
            podman("rm", "--force", "--volumes", name, check=False)
        for kind in ("volume", "network"):
            listed = podman(
                kind, "ls", "--quiet", "--filter", f"label=io.podman.compose.project={project}", check=False
            )
            for name in listed.stdout.split():
                podman(kind, "rm", "--force", name, check=False)
