"""make gpu-check's result writing, on the CPU: sections run, time-limited and parsed; goals; JSON and Markdown.

No timing is measured here: the benchmark figures are given, in the shape the benchmarks write them.
"""

from __future__ import annotations

import json

import torch

from benchmarks.bench_serve import HEADER
from scripts.gpu_check import NO_CUDA, SECTIONS, Section, run_section
from scripts.gpu_report import goals, write_report

MODEL_SECTION, TESTS_SECTION, SERVE_SECTION, EXPORT_SECTION, TRAIN_SECTION = SECTIONS
CARD = {"cuda": True, "card": "NVIDIA H100 80GB HBM3", "memory_gib": 79.2, "capability": "9.0",
        "cuda_runtime": "13.0", "driver": "580.159.04", "python": "3.12.3", "torch": "2.11.0",
        "torchvision": "0.26.0", "cpu_cores": 16}  # fmt: skip


def _model_results(ours: float, compiled: float) -> dict:
    rows = [("torchvision resnet50 prepared", 12_000.0), ("ours resnet50_lpf4 prepared", ours),
            ("ours resnet50_lpf4 prepared+compile", compiled)]  # fmt: skip
    return {
        "config": {"batch": 256, "device": "cuda:0 (NVIDIA H100 80GB HBM3)", "precision": "bfloat16"},
        "rows": [{"name": name, "ms": 256e3 / speed, "images_per_second": speed, "time_vs_torchvision_eager": 0.5,
                  "throughput_vs_torchvision_prepared": speed / 12_000} for name, speed in rows],
    }  # fmt: skip


def _serve_results(*ratios: float) -> dict:
    rows = [dict(zip(HEADER, (1, 32 * (i + 1), 256, 4000.0 * r, 60.0, 90.0, 4000.0, r), strict=True))
            for i, r in enumerate(ratios)]  # fmt: skip
    return {"config": {"device": "cuda:0", "clients": 8}, "rows": rows}


def _export_results(tensorrt: float) -> dict:
    rows = [
        {"name": "ours resnet50_lpf4 prepared", "status": "ok", "ms": 6.4, "images_per_second": 10_000.0,
         "time_vs_baseline": 1.0, "max_probability_difference": 0.002},
        {"name": "onnxruntime 1.32.0 CUDA fp32", "status": "skipped: no CUDAExecutionProvider"},
        {"name": "onnxruntime 1.32.0 TensorRT fp16", "status": "ok", "ms": 8.0, "images_per_second": 8000.0,
         "time_vs_baseline": tensorrt, "max_probability_difference": 0.004},
    ]  # fmt: skip
    return {"config": {"batch": 64, "device": "cuda:0"}, "rows": rows, "verdict": "best runtime: ..."}


def _report(sections: dict, device: dict) -> dict:
    return {"started": "now", "device": device, "sections": sections, "goals": goals(sections, device)}


def test_without_cuda_the_benchmarks_are_skipped_and_no_goal_has_a_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with open(tmp_path / "log.txt", "w") as log:
        sections = {s.name: run_section(s, tmp_path, 60, log)
                    for s in (MODEL_SECTION, TRAIN_SECTION, SERVE_SECTION, EXPORT_SECTION)}  # fmt: skip
    assert [s["status"] for s in sections.values()] == [NO_CUDA] * 4
    assert all("results" not in s for s in sections.values())
    report = _report(sections, {"cuda": False, "python": "3.11", "torch": "x", "torchvision": "y", "cpu_cores": 2})
    assert [(g["figure"], g["met"]) for g in report["goals"]] == [(None, None)] * 5

    out = tmp_path / "out"
    write_report(report, tmp_path, out)
    text = (out / "results.md").read_text()
    assert text.count(f"| {NO_CUDA} |") == 4 and "no CUDA device;" in text
    assert text.count("| not measured | not measured |") == 5
    assert json.loads((out / "results.json").read_text()) == report


def test_goals_are_judged_on_the_figures_and_the_card(tmp_path):
    sections = {
        "model": {"title": "Model", "status": "ok", "results": _model_results(ours=10_200.0, compiled=11_000.0)},
        "serve": {"title": "Served", "status": "ok", "results": _serve_results(0.3, 0.45)},
        "train": {"title": "Training", "status": "ok", "results": {"step_ratio": 0.95, "ours_images_per_s": 1210.4}},
        "export": {"title": "Export", "status": "ok", "results": _export_results(tensorrt=0.8)},
    }
    on_h100 = _report(sections, CARD)
    assert [g["met"] for g in on_h100["goals"]] == [True, False, True, True, True]
    assert on_h100["goals"][4]["figure"] == "0.80x (onnxruntime 1.32.0 TensorRT fp16, probabilities within 4.0e-03)"
    slower = _report({**sections, "export": {**sections["export"], "results": _export_results(tensorrt=0.95)}}, CARD)
    assert slower["goals"][4]["met"] is False
    assert on_h100["goals"][3]["figure"] == "0.95x (1210 images/s)"
    assert on_h100["goals"][0]["figure"] == "0.85x"
    assert on_h100["goals"][1]["figure"].startswith("0.45x (1800 images/s, 1 workers, batch 64")
    assert on_h100["goals"][2]["figure"] == "11000 images/s (ours resnet50_lpf4 prepared+compile)"
    on_h200 = _report(sections, {**CARD, "card": "NVIDIA H200"})
    assert on_h200["goals"][2]["met"] is None  # the 10,000 images/s goal is set for an H100

    write_report(on_h100, tmp_path, None)
    text = (tmp_path / "results.md").read_text()
    assert "NVIDIA H100 80GB HBM3 (79.2 GiB, compute 9.0, CUDA 13.0, driver 580.159.04)" in text
    assert "| ours resnet50_lpf4 prepared | 25.1 | 10200 | 0.85 |" in text
    assert "| 1 | 64 | 256 | 1800 | 60 | 90 | 4000 | 0.45 |" in text
    assert "| met |" in text and "| NOT met |" in text
    assert "| step_ratio | 0.95 |" in text and "| ours_images_per_s | 1210 |" in text
    assert "| onnxruntime 1.32.0 TensorRT fp16 | 8.0 | 8000 | 0.80 | 4.0e-03 |" in text
    assert "| onnxruntime 1.32.0 CUDA fp32 | skipped: no CUDAExecutionProvider |  |  |  |" in text


def test_a_pytest_section_reports_each_test_with_its_outcome_message_and_figures(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def test_measures(record_property):\n    record_property('max_difference', 0.004)\n"
        "def test_needs_a_device():\n    pytest.skip('no CUDA device: needs one')\n"
        "def test_breaks():\n    assert 1 == 2, 'figures differ'\n"
    )
    args = TESTS_SECTION.args.replace("tests/gpu -m gpu", str(tmp_path / "test_sample.py"))
    section = Section("tests", "Sample", args, "tests.xml", needs_cuda=False, timeout_s=120)
    with open(tmp_path / "log.txt", "w") as log:
        report = run_section(section, tmp_path, 120, log)
    assert report["status"] == "failed: some tests failed"
    outcomes = {test["test"].split("::")[1]: test for test in report["results"]}
    assert outcomes["test_measures"]["outcome"] == "passed"
    assert outcomes["test_measures"]["figures"] == {"max_difference": "0.004"}
    assert outcomes["test_needs_a_device"]["outcome"] == "skipped"
    assert outcomes["test_needs_a_device"]["message"] == "no CUDA device: needs one"
    assert outcomes["test_breaks"]["outcome"] == "failed" and "figures differ" in outcomes["test_breaks"]["message"]


def test_a_section_that_outlives_its_limit_is_stopped_and_reported(tmp_path):
    section = Section(
        "model", "Hangs", "-c 'import time; time.sleep(600)'", "none.json", needs_cuda=False, timeout_s=600
    )
    with open(tmp_path / "log.txt", "w") as log:
        report = run_section(section, tmp_path, 2, log)
    assert report["status"] == "timed out after 2 s" and report["seconds"] < 60
    assert "results" not in report
