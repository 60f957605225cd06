"""`make run`: fetch the weights, build the archives, serve them with TorchServe (and the probe service).

Waits until every model answers a real prediction, prints the URLs and an example curl, and stops
everything on Ctrl-C or SIGTERM. Offline, the models serve random weights: a loud warning at start,
and every answer says "untrained": true. One run at a time uses a run folder and a model store (a second is
refused at once, before it touches them), and a port already taken is named before anything starts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from antialiased.folder_lock import FolderInUse, folder_lock
from antialiased.weights import WeightsError
from archives.build import add_serving_options, build_from_args, untrained_names, untrained_warning
from launcher.ports import free_port, in_use
from launcher.probe_service import ServiceProcess, start_service
from launcher.stack import run_until_exit, serving, stop_signals
from launcher.torchserve import TorchServe, free_ports
from launcher.torchserve_config import Ports

RUN_DIR = Path("build/run")
TORCHSERVE_LOG = "torchserve.log"  # in the run folder
PROBE_LOG = "probe-service.log"
PROBE_PORT = 8000
LOOPBACK = "127.0.0.1"  # where TorchServe's management, metrics and gRPC listeners and the probe service bind
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
        "--free-ports",
        action="store_true",
        help="every listener on a free port (side by side with another run: give it its own --run-dir and --store)",
    )
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="logs and TorchServe's working folder")
    return parser


def _start_probe(torchserve: TorchServe, port: int, log_file: Path) -> ServiceProcess:
    env = {
        "PROBE_MODELS": ",".join(torchserve.models),
        "PROBE_TORCHSERVE_MANAGEMENT_URL": torchserve.management_url,
    }
    if torchserve.key_file is not None:
        env["PROBE_TORCHSERVE_KEY_FILE"] = str(torchserve.key_file)
    return start_service(torchserve.inference_url, port=port, env=env, log_file=log_file)


def _banner(torchserve: TorchServe, probe: ServiceProcess | None, untrained: list[str], run_dir: Path) -> str:
    model = torchserve.models[0]
    auth = ' -H "Authorization: Bearer $KEY"' if torchserve.token_auth else ""
    lines = [
        "",
        "TorchServe is ready:",
        f"  inference   {torchserve.inference_url}/predictions/<model>   models: {', '.join(torchserve.models)}",
        f"  management  {torchserve.management_url}/models   (this machine only)",
        f"  metrics     {torchserve.metrics_url}/metrics   (Prometheus, this machine only)",
        f"  logs        {run_dir / TORCHSERVE_LOG}" + (f", {probe.log_file}" if probe else ""),
    ]
    if probe:
        lines.append(f"  probe       {probe.url}/   (shift-stability probe service)")
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


def _ports(args: argparse.Namespace) -> tuple[Ports, int]:
    """TorchServe's ports and the probe service's; RuntimeError naming any that another process holds."""
    if args.free_ports:
        return free_ports(), free_port()
    ports = Ports(inference=args.port)
    listeners = {
        "TorchServe inference": (args.host, ports.inference),
        "TorchServe management": (LOOPBACK, ports.management),
        "TorchServe metrics": (LOOPBACK, ports.metrics),
        "TorchServe gRPC inference": (LOOPBACK, ports.grpc_inference),
        "TorchServe gRPC management": (LOOPBACK, ports.grpc_management),
    }
    if not args.no_probe:
        listeners["probe service"] = (LOOPBACK, args.probe_port)
    taken = [f"{port} ({name}, {host})" for name, (host, port) in listeners.items() if in_use(host, port)]
    if taken:
        raise RuntimeError(
            f"port {', '.join(taken)} already in use (another TorchServe or make run?): stop it, or choose other "
            "ports (--port, --probe-port) or --free-ports"
        )
    return ports, args.probe_port


def _serve(args: argparse.Namespace) -> int:
    """Build, serve and wait for Ctrl-C / SIGTERM, holding the run folder and the store; the exit status."""
    with folder_lock(args.run_dir), folder_lock(args.store):
        ports, probe_port = _ports(args)
        built = build_from_args(args, untrained_fallback=True)
        token_auth = True if args.token_auth else None  # None: on exactly when the inference address is not loopback
        with stop_signals(), contextlib.ExitStack() as stack:
            options = {"ports": ports, "token_auth": token_auth, "log_file": args.run_dir / TORCHSERVE_LOG}
            workdir = args.run_dir / "torchserve"
            torchserve = stack.enter_context(
                serving(args.store, built, workdir, STOP_TIMEOUT_S, inference_host=args.host, **options)
            )
            probe = None
            if not args.no_probe:
                probe = stack.enter_context(_start_probe(torchserve, probe_port, args.run_dir / PROBE_LOG))
            print(_banner(torchserve, probe, untrained_names(built), args.run_dir), flush=True)
            return run_until_exit(torchserve)


def main(argv: Sequence[str] | None = None) -> int:
    """`_serve` with its failures as one line on stderr; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per readiness request
    try:
        return _serve(args)
    except KeyboardInterrupt:
        return 0
    except FolderInUse as error:
        print(f"error: another make run is running here: {error}; stop it first (Ctrl-C), or give this one "
              "its own --run-dir and --store (with --free-ports)", file=sys.stderr)  # fmt: skip
        return 1
    except (WeightsError, RuntimeError, ValueError) as error:  # no weights, a port taken, TorchServe or the probe did
        # not start, a malformed TORCHSERVE_MODELS
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
