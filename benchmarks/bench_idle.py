"""What an idle stack costs: TorchServe's CPU time and the synthetic predictions the probe service's readiness
monitor sends while no client sends anything.

In one run: a TorchServe it starts itself serves resnet50_lpf4 (random weights) on the CPU, and a probe service
in front of it is started twice: first with a synthetic prediction at every readiness interval (the monitor's
behaviour before readiness rested on real outcomes: the baseline), then with the default idle time
(PROBE_READY_IDLE_S). For each, once ready, it idles `--seconds` and measures the CPU seconds of TorchServe's
processes (frontend and worker) and the synthetic predictions sent, per minute, and prints their ratio.
Usage: make bench-idle   (or: python -m benchmarks.bench_idle --seconds 60)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from antialiased.weights.registry import get_entry
from archives.archive import build_archive, model_spec
from benchmarks.bench_probe import MODEL, WEIGHTS_ENTRY, random_weights
from launcher.probe_service import start_service
from launcher.torchserve import TorchServe, start_torchserve
from service.settings import Settings


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` and all its descendants."""
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(sum(process.cpu_times()[:2]) for process in processes if process.is_running())


def idle_cost(server: TorchServe, workdir: Path, idle_s: float, seconds: float) -> tuple[float, float]:
    """(TorchServe CPU seconds per minute, synthetic predictions per minute) of an idle stack whose probe service
    predicts after `idle_s` without traffic."""
    env = {"PROBE_MODELS": MODEL, "PROBE_READY_IDLE_S": str(idle_s)}
    env["PROBE_TORCHSERVE_MANAGEMENT_URL"] = server.management_url
    with start_service(server.inference_url, env=env, log_file=workdir / f"probe-{idle_s:g}.log") as probe:
        while httpx.get(f"{probe.url}/readyz", timeout=10).status_code != 200:
            time.sleep(0.5)
        count = _synthetic(probe.url)
        cpu, start = cpu_seconds(server.process.pid), time.monotonic()
        time.sleep(seconds)
        minutes = (time.monotonic() - start) / 60
        used = cpu_seconds(server.process.pid) - cpu
        return used / minutes, (_synthetic(probe.url) - count) / minutes


def _synthetic(url: str) -> float:
    """The synthetic (readiness) predictions the probe service at `url` has sent."""
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "probe_torchserve_request_duration_seconds_count" and sample.labels["purpose"] == "readiness"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle time measured per setting")
    args = parser.parse_args()
    defaults = Settings(models=(MODEL,))
    settings = {"synthetic at every interval (baseline)": defaults.ready_interval_s, "default": defaults.ready_idle_s}
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as workdir:
        workdir = Path(workdir)
        weights = random_weights(workdir / "weights.pth")
        build_archive(MODEL, store=workdir / "store", weights_path=weights, weights_name=None, untrained=True,
                      model=model_spec(get_entry(WEIGHTS_ENTRY)), overrides={"handler": {"device": "cpu"}})  # fmt: skip
        with start_torchserve(workdir / "store", [MODEL], workdir / "ts", log_file=workdir / "ts.out") as server:
            server.wait_until_ready()
            print(f"{MODEL} on the CPU, {args.seconds:g} s idle per setting, readiness interval "
                  f"{defaults.ready_interval_s:g} s")  # fmt: skip
            print(f"{'setting':<40} {'idle s':>7} {'CPU s/min':>10} {'synthetic/min':>14}")
            results = {}
            for name, idle_s in settings.items():
                results[name] = idle_cost(server, workdir, idle_s, args.seconds)
                print(f"{name:<40} {idle_s:>7g} {results[name][0]:>10.2f} {results[name][1]:>14.1f}")
    (base_cpu, base_count), (cpu, count) = results.values()
    print(f"default / baseline: CPU {cpu / base_cpu:.2f}x, synthetic predictions {count / max(base_count, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
