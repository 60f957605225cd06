"""`make run`: fetch the weights, build the archives, serve them with TorchServe (and the probe service).

Waits until every model answers a real prediction, prints the URLs and an example curl, and stops
everything on Ctrl-C or SIGTERM. Offline, the models serve random weights: a loud warning at start,
and every answer says "untrained": true.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from antialiased.weights import WeightsError
from archives.build import add_serving_options, build_from_args, untrained_names, untrained_warning
from servers.ports import free_port
from servers.probe import ServiceProcess, start_service
from servers.stack import run_until_exit, serving, stop_signals
from servers.torchserve import TorchServe, free_ports
from servers.torchserve_config import Ports

RUN_DIR = Path("build/run")
TORCHSERVE_LOG = RUN_DIR / "torchserve.log"
PROBE_LOG = RUN_DIR / "probe-service.log"
PROBE_PORT = 8000
STOP_TIMEOUT_S = 30.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.run", description=__doc__.splitlines()[0])
    add_serving_options(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="inference address (127.0.0.1; any other turns token authorization on)"
    )
    parser.add_argument("--port", type=int, default=Ports.inference, help="inference port")
    parser.add_argument(
        "--token-auth", action="store_true", help="require TorchServe's keys on loopback too (a shared host)"
    )
    parser.add_argument("--probe-port", type=int, default=PROBE_PORT, help="probe service port")
    parser.add_argument("--no-probe", action="store_true", help="do not start the probe service")
    parser.add_argument(
        "--free-ports", action="store_true", help="every listener on a free port (side by side with another run)"
    )
    return parser


def _start_probe(torchserve: TorchServe, port: int) -> ServiceProcess:
    env = {
        "PROBE_MODELS": ",".join(torchserve.models),
        "PROBE_TORCHSERVE_MANAGEMENT_URL": torchserve.management_url,
    }
    if torchserve.key_file is not None:
        env["PROBE_TORCHSERVE_KEY_FILE"] = str(torchserve.key_file)
    return start_service(torchserve.inference_url, port=port, env=env, log_file=PROBE_LOG)


def _banner(torchserve: TorchServe, probe_url: str | None, untrained: list[str]) -> str:
    model = torchserve.models[0]
    auth = ' -H "Authorization: Bearer $KEY"' if torchserve.token_auth else ""
    lines = [
        "",
        "TorchServe is ready:",
        f"  inference   {torchserve.inference_url}/predictions/<model>   models: {', '.join(torchserve.models)}",
        f"  management  {torchserve.management_url}/models   (this machine only)",
        f"  metrics     {torchserve.metrics_url}/metrics   (Prometheus, this machine only)",
        f"  logs        {TORCHSERVE_LOG}, {PROBE_LOG}",
    ]
    if probe_url:
        lines.append(f"  probe       {probe_url}/   (shift-stability probe service)")
    lines += [
        "",
        "Classify a photo:",
        f"  curl{auth} -X POST {torchserve.inference_url}/predictions/{model} -T photo.jpg",
        f"  curl{auth} {torchserve.inference_url}/predictions/{model} -F data=@photo.jpg -F topk=3",
    ]
    if torchserve.key_file is not None:
        lines.append(f"  KEY: the 'inference' key in {torchserve.key_file}")
    lines += ["", "Ctrl-C stops everything.", ""]
    text = "\n".join(lines)
    return text + untrained_warning(untrained) if untrained else text


def _torchserve_options(args: argparse.Namespace) -> dict:
    ports = free_ports() if args.free_ports else Ports(inference=args.port)
    token_auth = True if args.token_auth else None  # None: on exactly when the inference address is not loopback
    return {"inference_host": args.host, "ports": ports, "token_auth": token_auth, "log_file": TORCHSERVE_LOG}


def main(argv: Sequence[str] | None = None) -> int:
    """Build, serve and wait for Ctrl-C / SIGTERM; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per readiness request
    try:
        built = build_from_args(args, untrained_fallback=True)
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        with stop_signals(), contextlib.ExitStack() as stack:
            torchserve = stack.enter_context(
                serving(args.store, built, RUN_DIR / "torchserve", STOP_TIMEOUT_S, **_torchserve_options(args))
            )
            probe = None
            if not args.no_probe:
                probe = stack.enter_context(
                    _start_probe(torchserve, free_port() if args.free_ports else args.probe_port)
                )
            print(_banner(torchserve, probe.url if probe else None, untrained_names(built)), flush=True)
            return run_until_exit(torchserve)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:  # TorchServe or the probe service did not start
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
