#!/usr/bin/env python3
"""Start of the TorchServe container: verified weights, model archives built from them, TorchServe.

Each model's weights are fetched into the weights volume ($ANTIALIASED_CACHE_DIR) and checked by sha256;
a verified file already there is reused, so a volume filled by hand (or by an earlier start) needs no
network. Without verified weights the container refuses to start, unless ALLOW_UNTRAINED_WEIGHTS=1 asks
for random weights (every answer then says "untrained": true). The archives are written to the model
store volume ($MODEL_STORE); TorchServe then runs as a child process until it exits or the container is
stopped. Arguments are archives.build's serving options, e.g. `--model resnet50_lpf4=resnet50_lpf4
--batch-size 16`; without --model, TORCHSERVE_MODELS (`NAME=WEIGHTS,...`: your own models, by their registry names
in ANTIALIASED_WEIGHTS_REGISTRY), else resnet50_lpf4 with the fine-tuned weights and the resnet50 baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from antialiased.weights import WeightsError
from archives.build import (
    add_serving_options,
    build_from_args,
    check_runtime_installed,
    overrides_from_args,
    served_models,
)
from launcher.stack import run_until_exit, serving, stop_signals
from launcher.torchserve_config import TOKEN_EXPIRATION_MIN, Ports

INFERENCE_HOST = "0.0.0.0"  # inside the container; compose publishes the port on the host's loopback
STOP_TIMEOUT_S = 20.0  # below compose's stop_grace_period (30 s)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class SettingError(ValueError):
    """An environment variable holds a value the entrypoint does not understand."""


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean environment variable; anything but a clear yes or no is an error, not a silent default."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in TRUE:
        return True
    if value.strip().lower() in FALSE:
        return False
    raise SettingError(f"{name}={value!r}: use 1 or 0")


def env_float(name: str, default: float) -> float:
    """A positive number from the environment; anything else is an error, not a silent default."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number <= 0:
        raise SettingError(f"{name}={value!r}: use a positive number")
    return number


def refusal(error: WeightsError) -> str:
    """Why the container does not start, and the three ways out."""
    cache = os.environ.get("ANTIALIASED_CACHE_DIR", "the weights volume")
    return (
        f"refusing to start: no verified weights.\n  {error}\n"
        "Either let the container download them (network access to the official host, or set "
        f"ANTIALIASED_WEIGHTS_MIRROR), or put the checkpoint files into {cache} (the weights volume, or "
        "WEIGHTS_DIR in docker/.env), or set ALLOW_UNTRAINED_WEIGHTS=1 to serve random weights for testing "
        '(every answer then says "untrained": true).'
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="torchserve-entrypoint", description=__doc__.splitlines()[0])
    add_serving_options(parser)
    parser.set_defaults(store=Path(os.environ.get("MODEL_STORE", "model-store")))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Build the archives and run TorchServe; return its exit status (0 after a stop signal)."""
    args = _parser().parse_args(argv)
    try:
        allow_untrained = env_flag("ALLOW_UNTRAINED_WEIGHTS")
        token_auth = env_flag("TORCHSERVE_TOKEN_AUTH", default=True)
        token_expiration_min = env_float("TORCHSERVE_TOKEN_EXPIRATION_MIN", TOKEN_EXPIRATION_MIN)
        # 0.0.0.0 where a scraper from outside the container reads the metrics (Kubernetes, with a NetworkPolicy).
        metrics_host = os.environ.get("TORCHSERVE_METRICS_HOST", "127.0.0.1")
        served_models(args)  # a malformed TORCHSERVE_MODELS fails here, before any download
        check_runtime_installed(overrides_from_args(args))
    except ValueError as error:  # SettingError, TORCHSERVE_MODELS, or a --runtime whose packages are missing
        print(f"error: {error}", file=sys.stderr)
        return 2
    workdir = Path(os.environ.get("TORCHSERVE_WORKDIR", ".")).resolve()
    try:
        with stop_signals():
            try:
                built = build_from_args(args, untrained_fallback=allow_untrained, progress=False)
            except WeightsError as error:
                print(refusal(error), file=sys.stderr)
                return 1
            # TorchServe's standard ports: 8080 inference, 8081 management, 8082 metrics, 7070/7071 gRPC.
            with serving(
                args.store, built, workdir, STOP_TIMEOUT_S, inference_host=INFERENCE_HOST, ports=Ports(),
                token_auth=token_auth, token_expiration_min=token_expiration_min, metrics_host=metrics_host,
            ) as server:  # fmt: skip
                print(f"ready: {', '.join(server.models)} answer predictions on port 8080", flush=True)
                return run_until_exit(server)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:  # TorchServe did not start or exited before it was ready
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
