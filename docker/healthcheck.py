#!/usr/bin/env python3
"""Container health check: healthy only when a real prediction succeeds.

`healthcheck torchserve`: classify a small synthetic image with every model TorchServe serves.
`healthcheck probe`: the probe service's /readyz, which itself asks TorchServe for a real prediction.
TorchServe's /ping stays "Healthy" while its workers are dead, so it is not used. Standard library
and Pillow only: the check must start fast and must not import torch.
"""

from __future__ import annotations

import io
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image

TIMEOUT_S = 20.0


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "image/jpeg", **headers}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _image() -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((256, 256)).convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


def _torchserve_config(workdir: Path) -> tuple[list[str], dict[str, str]]:
    """The served models and the headers an inference request needs, from TorchServe's working directory."""
    properties = dict(
        line.split("=", 1) for line in (workdir / "config.properties").read_text().splitlines() if "=" in line
    )
    models = [item.split("=", 1)[0] for item in properties.get("load_models", "").split(",") if item]
    if not models:
        raise RuntimeError("config.properties loads no model")
    if properties.get("disable_token_authorization", "false").strip() == "true":
        return models, {}
    key = json.loads((workdir / "key_file.json").read_text())["inference"]["key"]
    return models, {"Authorization": f"Bearer {key}"}


def check_torchserve() -> str:
    """Every model TorchServe loads answers a prediction with a non-empty top-k."""
    models, headers = _torchserve_config(Path(os.environ.get("TORCHSERVE_WORKDIR", ".")))
    image = _image()
    for model in models:
        status, body = _post(f"http://127.0.0.1:8080/predictions/{model}", image, headers)
        if status != 200:
            raise RuntimeError(f"{model}: HTTP {status}: {body[:300]!r}")
        if not json.loads(body).get("topk"):
            raise RuntimeError(f"{model}: no top-k in {body[:300]!r}")
    return f"predictions from {', '.join(models)}"


def check_probe() -> str:
    """The probe service is ready: its /readyz got a real prediction from every configured model."""
    port = os.environ.get("PROBE_PORT", "8000")
    status, body = _get(f"http://127.0.0.1:{port}/readyz")
    if status != 200:
        raise RuntimeError(f"/readyz: HTTP {status}: {body[:300]!r}")
    return "ready"


def main(argv: list[str]) -> int:
    checks = {"torchserve": check_torchserve, "probe": check_probe}
    if len(argv) != 1 or argv[0] not in checks:
        print(f"usage: healthcheck {{{','.join(checks)}}}", file=sys.stderr)
        return 2
    try:
        print(checks[argv[0]]())
    except (OSError, RuntimeError, ValueError) as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
