"""Container health check (`python -m launcher.healthcheck torchserve|probe`): healthy only after a real prediction.

`torchserve`: classify the readiness image with every model TorchServe serves (read from its config.properties).
`probe`: the probe service's /readyz, which reflects its own recent real predictions through TorchServe.
TorchServe's /ping stays "Healthy" while its workers are dead, so it is not used. Torch-free.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from antialiased.serving.contract import synthetic_marks
from antialiased.serving.readiness import prediction_problem, readiness_image
from launcher.torchserve_config import read_server_config

TIMEOUT_S = 20.0


def check_torchserve() -> str:
    """Every model TorchServe loads answers a prediction with a non-empty top-k."""
    config = read_server_config(Path(os.environ.get("TORCHSERVE_WORKDIR", ".")))
    marks, parameters = synthetic_marks("healthcheck")
    for model in config.models:
        response = httpx.post(
            f"{config.inference_url}/predictions/{model}",
            content=readiness_image(),
            params=parameters,
            headers={"Content-Type": "image/jpeg", **config.inference_headers(), **marks},
            timeout=TIMEOUT_S,
        )
        problem = prediction_problem(response.status_code, response.content)
        if problem:
            raise RuntimeError(f"{model}: {problem}")
    return f"predictions from {', '.join(config.models)}"


def check_probe() -> str:
    """The probe service is ready: its /readyz saw recent real predictions from every configured model."""
    port = os.environ.get("PROBE_PORT", "8000")
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=TIMEOUT_S)
    if response.status_code != 200:
        raise RuntimeError(f"/readyz: HTTP {response.status_code}: {response.text[:300]!r}")
    return "ready"


def main(argv: list[str]) -> int:
    checks = {"torchserve": check_torchserve, "probe": check_probe}
    if len(argv) != 1 or argv[0] not in checks:
        print(f"usage: python -m launcher.healthcheck {{{','.join(checks)}}}", file=sys.stderr)
        return 2
    try:
        print(checks[argv[0]]())
    except (OSError, RuntimeError, ValueError, httpx.HTTPError) as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
