"""Write TorchServe's config.properties from the hardened template beside this module."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from antialiased.images import MAX_IMAGE_BYTES

TEMPLATE = Path(__file__).with_name("config.properties.in")
# Room above the handler's image limit for multipart framing and form fields, so that the handler, not
# TorchServe, answers an image that is too large.
MAX_REQUEST_SIZE = MAX_IMAGE_BYTES + 4 * 1024 * 1024
# A shift request's answer grows with its shifts: 1089 shifts, each top-1 a different class, is about 30 MB.
MAX_RESPONSE_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True)
class Ports:
    """The ports of one TorchServe instance; only `inference` may be reachable from other machines."""

    inference: int = 8080
    management: int = 8081
    metrics: int = 8082
    grpc_inference: int = 7070
    grpc_management: int = 7071
    worker: int = 9000  # first port of the worker sockets (Unix sockets named after it)


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or 'localhost') is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token_auth(inference_host: str, token_auth: bool | None) -> bool:
    """Whether token authorization is on: as asked, else exactly when the inference host is not loopback."""
    return not is_loopback(inference_host) if token_auth is None else token_auth


def write_server_config(
    path: Path,
    *,
    model_store: Path,
    models: Sequence[str],
    inference_host: str = "127.0.0.1",
    ports: Ports = Ports(),
    token_auth: bool | None = None,
    metrics_host: str = "127.0.0.1",
    number_of_gpu: int | None = None,
) -> Path:
    """Write config.properties for `models` of `model_store` (archives `<name>.mar`) to `path`.

    `number_of_gpu` caps the GPUs whose ids TorchServe hands to workers (round robin); None leaves
    TorchServe's own count: the GPUs that CUDA_VISIBLE_DEVICES or nvidia-smi list.

    Token authorization defaults to on exactly when the inference address is not loopback: on
    127.0.0.1 only this machine can call it, so requests need no key; on any other address every
    inference call must carry TorchServe's key (key_file.json in TorchServe's working directory).
    """
    model_store = Path(model_store).resolve()
    token_auth = resolve_token_auth(inference_host, token_auth)
    comment = (
        "ON: every inference request must carry the key that TorchServe writes to key_file.json."
        if token_auth
        else "OFF: the inference address is loopback, reachable from this machine only."
    )
    text = Template(TEMPLATE.read_text()).substitute(
        inference_address=f"http://{_url_host(inference_host)}:{ports.inference}",
        management_port=ports.management,
        metrics_host=_url_host(metrics_host),
        metrics_port=ports.metrics,
        grpc_inference_port=ports.grpc_inference,
        grpc_management_port=ports.grpc_management,
        worker_port=ports.worker,
        model_store=model_store,
        load_models=",".join(f"{name}={name}.mar" for name in models),
        allowed_urls="file://" + re.escape(str(model_store)) + r"/[^/]+\.mar",
        disable_token_authorization=str(not token_auth).lower(),
        token_auth_comment=comment,
        max_request_size=MAX_REQUEST_SIZE,
        max_response_size=MAX_RESPONSE_SIZE,
        number_of_gpu="# number_of_gpu: not set, every GPU counted"
        if number_of_gpu is None
        else f"number_of_gpu={number_of_gpu}",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _url_host(host: str) -> str:
    """`host` as written in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
