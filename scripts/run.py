"""`make run`: fetch the weights, build the archives, serve them with TorchServe (and the probe service).

Waits until every model answers a real prediction, prints the URLs and an example curl, and stops
everything on Ctrl-C or SIGTERM. Offline, the models serve random weights: a loud warning at start,
and every answer says "untrained": true.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from antialiased.weights import WeightsError
from model_store.build import (
    DEFAULT_MODELS,
    add_serving_options,
    build_model_store,
    overrides_from_args,
    untrained_warning,
)
from model_store.server import TorchServe, TorchServeError, free_port, free_ports, start_torchserve
from model_store.server_config import Ports

RUN_DIR = Path("build/run")
TORCHSERVE_LOG = RUN_DIR / "torchserve.log"
PROBE_PORT = 8000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.run", description=__doc__.splitlines()[0])
    add_serving_options(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="inference address (127.0.0.1; any other turns token authorization on)"
    )
    parser.add_argument("--port", type=int, default=Ports.inference, help="inference port")
    parser.add_argument("--probe-port", type=int, default=PROBE_PORT, help="probe service port")
    parser.add_argument("--no-probe", action="store_true", help="do not start the probe service")
    parser.add_argument(
        "--free-ports", action="store_true", help="every listener on a free port (side by side with another run)"
    )
    return parser


def _probe_service_available() -> bool:
    return importlib.util.find_spec("service") is not None and importlib.util.find_spec("service.launcher") is not None


def _start_probe(torchserve: TorchServe, host: str, port: int):
    from service.launcher import start_service

    env = {"PROBE_MODELS": ",".join(torchserve.models)}
    if torchserve.token_auth:
        env["PROBE_TORCHSERVE_KEY_FILE"] = str(torchserve.workdir / "key_file.json")
    return start_service(
        torchserve.inference_url,
        host=host,
        port=port,
        env=env,
        log_file=RUN_DIR / "probe-service.log",
    )


def _banner(torchserve: TorchServe, probe_url: str | None, untrained: list[str]) -> str:
    model = torchserve.models[0]
    auth = ' -H "Authorization: Bearer $KEY"' if torchserve.token_auth else ""
    lines = [
        "",
        "TorchServe is ready:",
        f"  inference   {torchserve.inference_url}/predictions/<model>   models: {', '.join(torchserve.models)}",
        f"  management  {torchserve.management_url}/models   (this machine only)",
        f"  metrics     {torchserve.metrics_url}/metrics   (Prometheus, this machine only)",
        f"  logs        {TORCHSERVE_LOG}, {RUN_DIR / 'probe-service.log'}",
    ]
    if probe_url:
        lines.append(f"  probe       {probe_url}/   (shift-stability probe service)")
    lines += [
        "",
        "Classify a photo:",
        f"  curl{auth} -X POST {torchserve.inference_url}/predictions/{model} -T photo.jpg",
        f"  curl{auth} {torchserve.inference_url}/predictions/{model} -F data=@photo.jpg -F topk=3",
    ]
    if torchserve.token_auth:
        lines.append(f"  KEY: the 'inference' key in {torchserve.workdir / 'key_file.json'}")
    lines += ["", "Ctrl-C stops everything.", ""]
    text = "\n".join(lines)
    return text + untrained_warning(untrained) if untrained else text


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Build, serve and wait for Ctrl-C / SIGTERM; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per readiness request
    try:
        built = build_model_store(
            args.store,
            dict(args.model or DEFAULT_MODELS),
            weights_dir=args.weights_dir,
            untrained_fallback=True,
            overrides=overrides_from_args(args),
        )
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    untrained = [archive.name for archive in built if archive.untrained]
    if untrained:
        print(untrained_warning(untrained), file=sys.stderr)

    # SIGTERM stops like Ctrl-C; SIGINT is set too, since a shell that starts us in the background ignores it.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    try:
        torchserve = start_torchserve(
            args.store,
            [archive.name for archive in built],
            RUN_DIR / "torchserve",
            inference_host=args.host,
            ports=free_ports() if args.free_ports else Ports(inference=args.port),
            log_file=TORCHSERVE_LOG,
        )
    except TorchServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    probe = None
    try:
        print("waiting until every model answers a real prediction ...", flush=True)
        torchserve.wait_until_ready()
        if not args.no_probe and _probe_service_available():
            probe = _start_probe(torchserve, "127.0.0.1", free_port() if args.free_ports else args.probe_port)
        print(_banner(torchserve, probe.url if probe else None, untrained), flush=True)
        while torchserve.running():
            time.sleep(1.0)
        print(f"error: TorchServe exited with status {torchserve.process.returncode}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:  # TorchServeError, or the probe service's start error
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        print("stopping ...", flush=True)
        if probe is not None:
            probe.stop()
        torchserve.stop()


if __name__ == "__main__":
    sys.exit(main())
