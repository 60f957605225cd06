"""The GPU check's report: the issue's goals judged against the figures, and the Markdown tables of results.md."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from benchmarks.bench_model import OURS_COMPILED, OURS_PREPARED
from benchmarks.bench_runtimes import RUNTIME_GOAL

H100_GOAL = 10_000  # images/s of ours in the model-only benchmark, on an H100
MODEL_GOAL = 0.8  # ours prepared / torchvision prepared throughput
SERVE_GOAL = 0.5  # served JPEG-in/JSON-out / in-process forward throughput
TRAIN_GOAL = 0.9  # the fine-tuning loop's / a bare PyTorch loop's training throughput, per step


def goals(sections: dict[str, dict[str, Any]], device: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals against the figures measured: each with its figure and met (None: not measured)."""
    model = {row["name"]: row for row in sections.get("model", {}).get("results", {}).get("rows", [])}
    serve = sections.get("serve", {}).get("results", {}).get("rows", [])
    ours = model.get(OURS_PREPARED)
    fastest = max(
        (model[name] for name in (OURS_PREPARED, OURS_COMPILED) if name in model),
        key=lambda row: row["images_per_second"],
        default=None,
    )
    best = max(serve, key=lambda row: row["served / in-process"], default=None)
    train = sections.get("train", {}).get("results")
    runtimes = [r for r in sections.get("export", {}).get("results", {}).get("rows", [])[1:] if r["status"] == "ok"]
    fastest_runtime = min(runtimes, key=lambda row: row["time_vs_baseline"], default=None)
    card = device.get("card", "")
    found = [
        {
            "goal": f"ours prepared >= {MODEL_GOAL}x torchvision prepared throughput (same card, same run)",
            "figure": f"{ours['throughput_vs_torchvision_prepared']:.2f}x" if ours else None,
            "met": ours["throughput_vs_torchvision_prepared"] >= MODEL_GOAL if ours else None,
        },
        {
            "goal": f"served JPEG-in/JSON-out >= {SERVE_GOAL}x in-process forward throughput (best of the sweep)",
            "figure": (
                f"{best['served / in-process']:.2f}x ({best['images/s']:.0f} images/s, {best['workers']} "
                f"workers, batch {best['batch']}, concurrency {best['concurrency']})"
            )
            if best
            else None,
            "met": best["served / in-process"] >= SERVE_GOAL if best else None,
        },
        {
            "goal": f"on an H100, ours >= {H100_GOAL} images/s in the model-only benchmark",
            "figure": f"{fastest['images_per_second']:.0f} images/s ({fastest['name']})" if fastest else None,
            "met": fastest["images_per_second"] >= H100_GOAL if fastest and "H100" in card else None,
        },
        {
            "goal": f"fine-tuning loop >= {TRAIN_GOAL}x a bare PyTorch loop's training throughput (per step)",
            "figure": f"{train['step_ratio']:.2f}x ({train['ours_images_per_s']:.0f} images/s)" if train else None,
            "met": train["step_ratio"] >= TRAIN_GOAL if train else None,
        },
        {
            "goal": f"an export runtime at <= {RUNTIME_GOAL}x ours prepared's time (else no handler `runtime` option)",
            "figure": (
                f"{fastest_runtime['time_vs_baseline']:.2f}x ({fastest_runtime['name']}, probabilities within "
                f"{fastest_runtime['max_probability_difference']:.1e})"
            )
            if fastest_runtime
            else None,
            "met": fastest_runtime["time_vs_baseline"] <= RUNTIME_GOAL if fastest_runtime else None,
        },
    ]
    return found


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables: device, sections, goals, then each section's figures."""
    device = report["device"]
    card = (
        (
            f"{device['card']} ({device['memory_gib']} GiB, compute {device['capability']}, CUDA "
            f"{device['cuda_runtime']}, driver {device.get('driver', '?')})"
        )
        if device["cuda"]
        else "no CUDA device"
    )
    lines = [
        "# GPU check",
        "",
        f"{report['started']}: {card}; torch {device['torch']}, torchvision {device['torchvision']}, "
        f"Python {device['python']}, {device['cpu_cores']} CPU cores.",
        "",
        *_table(
            ("section", "status", "seconds"),
            [(s["title"], s["status"], s.get("seconds", "")) for s in report["sections"].values()],
        ),
        "",
        "## Goals",
        "",
        *_table(
            ("goal", "figure", "met"),
            [(g["goal"], g["figure"] or "not measured", _met(g["met"])) for g in report["goals"]],
        ),
    ]
    renderers = {"model": _model_lines, "train": _train_lines, "serve": _serve_lines, "tests": _tests_lines,
                 "export": _export_lines}  # fmt: skip
    for name, section in report["sections"].items():
        if "results" in section:
            lines += ["", f"## {section['title']}", "", *renderers[name](section["results"])]
    return "\n".join(lines) + "\n"


def _model_lines(results: dict[str, Any]) -> list[str]:
    rows = [
        (r["name"], f"{r['ms']:.1f}", f"{r['images_per_second']:.0f}", f"{r['throughput_vs_torchvision_prepared']:.2f}")
        for r in results["rows"]
    ]
    header = ("variant", "ms / batch", "images/s", "x torchvision prepared")
    return [_config_line(results["config"]), "", *_table(header, rows)]


def _export_lines(results: dict[str, Any]) -> list[str]:
    rows = [
        (r["name"], f"{r['ms']:.1f}", f"{r['images_per_second']:.0f}", f"{r['time_vs_baseline']:.2f}",
         f"{r['max_probability_difference']:.1e}") if r["status"] == "ok" else (r["name"], r["status"], "", "", "")
        for r in results["rows"]
    ]  # fmt: skip
    header = ("variant", "ms / batch", "images/s", "x ours prepared's time", "max probability difference")
    return [_config_line(results["config"]), "", *_table(header, rows), "", results["verdict"]]


def _train_lines(results: dict[str, Any]) -> list[str]:
    """bench_train's one result: its figures as a two-column table."""
    rows = [(key, f"{value:.2f}" if key.endswith("ratio") else _number(key, value)) for key, value in results.items()]
    return _table(("figure", "value"), rows)


def _serve_lines(results: dict[str, Any]) -> list[str]:
    rows = [tuple(_number(key, value) for key, value in row.items()) for row in results["rows"]]
    header = tuple(results["rows"][0]) if results["rows"] else ("no rows",)
    return [_config_line(results["config"]), "", *_table(header, rows)]


def _tests_lines(results: list[dict[str, Any]]) -> list[str]:
    return _table(("test", "outcome", "figures or message"), [(t["test"], t["outcome"], _figures(t)) for t in results])


def _table(header: tuple[str, ...], rows: list) -> list[str]:
    cells = [header, tuple("---" for _ in header), *rows]
    return ["| " + " | ".join(str(cell).replace("|", "/").replace("\n", " ") for cell in row) + " |" for row in cells]


def _number(key: str, value: Any) -> str:
    """A figure as the tables show it: ratios with two decimals, other measurements rounded."""
    if isinstance(value, float):
        return f"{value:.2f}" if "/" in key and "images/s" not in key else f"{value:.0f}"
    return str(value)


def _met(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "NOT met"


def _figures(test: dict[str, Any]) -> str:
    figures = ", ".join(f"{name} {value}" for name, value in test["figures"].items())
    return figures if test["outcome"] == "passed" else " ".join(filter(None, (test["message"][:300], figures)))


def _config_line(config: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in config.items())


def write_report(report: dict[str, Any], directory: Path, out: Path | None) -> None:
    """results.json and results.md into `directory`, and with log.txt into `out` when given."""
    (directory / "results.json").write_text(json.dumps(report, indent=2))
    (directory / "results.md").write_text(markdown(report))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("results.json", "results.md", "log.txt"):
            shutil.copy2(directory / name, out / name)
