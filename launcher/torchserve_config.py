"""TorchServe's config.properties: written from the hardened template beside this module, and read back (by the
health check) for the models, the inference address and the keys an inference request needs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from antialiased.imagefile import MAX_IMAGE_BYTES
from antialiased.serving.torchserve_keys import api_headers
from launcher.ports import client_host, is_loopback, url_host

TEMPLATE = Path(__file__).with_name("config.properties.in")
CONFIG_FILE = "config.properties"
KEY_FILE = "key_file.json"  # written by TorchServe into its working directory when token authorization is on
# Room above the handler's image limit for multipart framing and form fields, so that the handler, not
# TorchServe, answers an image that is too large.
MAX_REQUEST_SIZE = MAX_IMAGE_BYTES + 4 * 1024 * 1024
# A shift request's answer grows with its shifts: 1089 shifts, each top-1 a different class, is about 30 MB.
MAX_RESPONSE_SIZE = 64 * 1024 * 1024
# TorchServe's own default lifetime of its inference and management keys, in minutes.
TOKEN_EXPIRATION_MIN = 60.0
# Requests a model's queue holds while its workers are busy; beyond it TorchServe answers 503 at once. About
# 8 batches of 8 for one worker: a full queue is 8 batch times of waiting (see docs/reliability.md, "Overload").
JOB_QUEUE_SIZE = 64


@dataclass(frozen=True)
class Ports:
    """The ports of one TorchServe instance; only `inference` may be reachable from other machines."""

    inference: int = 8080
    management: int = 8081
    metrics: int = 8082
    grpc_inference: int = 7070
    grpc_management: int = 7071
    worker: int = 9000  # first port of the worker sockets (Unix sockets named after it)


def resolve_token_auth(inference_host: str, token_auth: bool | None) -> bool:
    """Whether token authorization is on: as asked, else exactly when the inference host is not loopback."""
    return not is_loopback(inference_host) if token_auth is None else token_auth


def key_file_of(workdir: Path, token_auth: bool) -> Path | None:
    """Where TorchServe working in `workdir` keeps its keys; None without token authorization."""
    return workdir / KEY_FILE if token_auth else None


def write_server_config(
    path: Path,
    *,
    model_store: Path,
    models: Sequence[str],
    inference_host: str = "127.0.0.1",
    ports: Ports = Ports(),
    token_auth: bool | None = None,
    metrics_host: str = "127.0.0.1",
    job_queue_size: int = JOB_QUEUE_SIZE,
    number_of_gpu: int | None = None,
    token_expiration_min: float = TOKEN_EXPIRATION_MIN,
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
        "ON: every inference and management request must carry a key that TorchServe writes to key_file.json."
        if token_auth
        else "OFF: the inference address is loopback, reachable from this machine only."
    )
    text = Template(TEMPLATE.read_text()).substitute(
        inference_address=f"http://{url_host(inference_host)}:{ports.inference}",
        management_port=ports.management,
        metrics_host=url_host(metrics_host),
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
        job_queue_size=job_queue_size,
        token_expiration_min=token_expiration_min,
        number_of_gpu="# number_of_gpu: not set, every GPU counted"
        if number_of_gpu is None
        else f"number_of_gpu={number_of_gpu}",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@dataclass(frozen=True)
class ServerConfig:
    """What a client on this machine needs from a TorchServe working directory's config.properties."""

    workdir: Path
    models: tuple[str, ...]
    inference_url: str
    token_auth: bool

    def inference_headers(self) -> dict[str, str]:
        return api_headers(key_file_of(self.workdir, self.token_auth))


def read_server_config(workdir: Path) -> ServerConfig:
    """The models, inference URL and token setting of the TorchServe whose working directory is `workdir`."""
    lines = (workdir / CONFIG_FILE).read_text().splitlines()
    properties = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    models = tuple(item.split("=", 1)[0] for item in properties.get("load_models", "").split(",") if item)
    if not models:
        raise ValueError(f"{workdir / CONFIG_FILE} loads no model")
    address = urlsplit(properties["inference_address"])
    return ServerConfig(
        workdir=workdir,
        models=models,
        inference_url=f"http://{client_host(address.hostname or '127.0.0.1')}:{address.port}",
        token_auth=properties.get("disable_token_authorization", "false").strip() != "true",
    )
