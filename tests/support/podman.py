"""podman for the container tests: the project's wrapper, pip's local wheel sources as build mounts, clean-up.

Everything runs through scripts/podman.sh (runc, cgroupfs, ulimits and the project's own storage), so the
base image built by scripts/base-image.sh stays cached there between runs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

REPO = Path(__file__).resolve().parents[2]
PODMAN = REPO / "scripts" / "podman.sh"
BASE_IMAGE_SCRIPT = REPO / "scripts" / "base-image.sh"
BASE_IMAGE = "localhost/debian:bookworm"
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE_FILES = (REPO / "docker" / "compose.yaml", REPO / "docker" / "compose.cpu.yaml")
BIN = Path(sys.executable).parent


class CommandError(RuntimeError):
    """A command failed or timed out; the message holds its output tail."""


def run(command: list[str], *, timeout: float, check: bool = True, env: dict[str, str] | None = None):
    """Run `command`, capturing its output; raise CommandError when it fails (if `check`) or times out."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as error:
        raise CommandError(f"timed out after {timeout:.0f} s: {shlex.join(command)}\n{_tail(error.stdout)}") from None
    if check and result.returncode != 0:
        raise CommandError(
            f"exit {result.returncode}: {shlex.join(command)}\n{_tail(result.stdout)}\n{_tail(result.stderr)}"
        )
    return result


def podman(*args: str, timeout: float = 120, check: bool = True):
    """Run scripts/podman.sh with `args`."""
    return run([str(PODMAN), *args], timeout=timeout, check=check)


def _tail(text: str | bytes | None, lines: int = 60) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])


def _pip_setting(key: str) -> str:
    """A setting of pip's configuration on this host (environment first, then config files); '' when unset."""
    env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
    if env is not None:
        return env
    result = run([sys.executable, "-m", "pip", "config", "get", f"global.{key}"], timeout=60, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def wheel_sources() -> tuple[list[str], list[str]]:
    """Build arguments and read-only mounts that give the image build pip's local wheel sources of this host.

    Folders of `find-links` and `file://` indexes of `extra-index-url` are mounted at the same paths, so the
    multi-GB torch wheels are read from disk instead of downloaded again. Returns (build args, volume flags).
    """
    find_links = [link for link in _pip_setting("find-links").split() if Path(link).is_dir()]
    indexes = _pip_setting("extra-index-url").split()
    mounts = set(find_links)
    for url in indexes:
        parts = urlsplit(url)
        if parts.scheme == "file":
            # A file index links its wheels relative to itself (../../files/...): mount the index's parent.
            mounts.add(str(Path(url2pathname(parts.path)).parent))
    build_args = [
        f"--build-arg=PIP_FIND_LINKS={' '.join(find_links)}",
        f"--build-arg=PIP_EXTRA_INDEX_URL={' '.join(indexes)}",
    ]
    volumes = [f"--volume={path}:{path}:ro" for path in sorted(mounts) if Path(path).is_dir()]
    return build_args, volumes


def ensure_base_image() -> float:
    """Build the local Debian base image unless it is cached; return the seconds it took."""
    start = time.monotonic()
    run(["bash", str(BASE_IMAGE_SCRIPT), BASE_IMAGE], timeout=900)
    return time.monotonic() - start


def build_image(target: str, tag: str, timeout: float = 900) -> float:
    """Build `target` of docker/Dockerfile from the local base image as `tag`; return the seconds it took."""
    build_args, volumes = wheel_sources()
    start = time.monotonic()
    podman(
        "build",
        "--format=docker",  # OCI images drop HEALTHCHECK and SHELL
        "--layers",
        f"--file={DOCKERFILE}",
        f"--target={target}",
        f"--tag={tag}",
        f"--build-arg=BASE_IMAGE={BASE_IMAGE}",
        *build_args,
        *volumes,
        str(REPO),
        timeout=timeout,
    )
    return time.monotonic() - start


def image_ids() -> set[str]:
    """Ids of every image in the project's storage, intermediate build layers included."""
    return set(podman("images", "--all", "--quiet", "--no-trunc").stdout.split())


def inspect(kind: str, name: str) -> dict:
    """`podman <kind> inspect` of one object."""
    return json.loads(podman(kind, "inspect", name).stdout)[0]


def compose(project: str, *args: str, env: dict[str, str], timeout: float = 600, check: bool = True):
    """podman-compose on docker/compose.yaml with the CPU override (its GPU reservation hangs podman-compose)."""
    files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
    command = [str(BIN / "podman-compose"), f"--podman-path={PODMAN}", "-p", project, *files, *args]
    # podman-compose can hang; `timeout` bounds it even if it ignores the subprocess deadline's signal.
    return run(
        ["timeout", "--kill-after=10", str(int(timeout)), *command],
        timeout=timeout + 30,
        check=check,
        env={**os.environ, **env},
    )
