# One venv inside the repo; every target that needs it depends on its stamp, so set-up is idempotent.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_EVAL := $(VENV)/.installed-eval
STAMP_EXPORT := $(VENV)/.installed-export
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: setup setup-dev setup-eval setup-export run test lint bench bench-serve bench-probe bench-scheduling bench-oip bench-eval bench-idle bench-memory evaluate sequences finetune export export-check bench-train gpu-check \
	gpu-bundle clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): requirements.txt requirements-probe.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(STAMP_EVAL): requirements-eval.txt $(STAMP_RUN)
	$(PY) -m pip install -q -r requirements-eval.txt
	touch $@

$(STAMP_EXPORT): requirements-export.txt $(STAMP_RUN)
	$(PY) -m pip install -q -r requirements-export.txt
	touch $@

$(STAMP_DEV): requirements-dev.txt requirements-export.txt tests/service/targets/requirements-kserve.txt tests/service/targets/requirements-kserve-onnx.txt tests/kubernetes/requirements-checkov.txt $(STAMP_EVAL)
	$(PY) -m pip install -q -r requirements-dev.txt
	# KServe's model server (a probe target in tests/service/targets) in a venv of its own: its pins clash with ours.
	# and with ONNX Runtime (build/kserve-onnx-venv), for the export's oip test.
	$(PY) -m tests.service.targets.kserve_venv
	# The checkov policy scanner (tests/kubernetes), in a venv of its own for the same reason.
	$(PY) -m tests.kubernetes.checkov_venv
	touch $@

setup: $(STAMP_RUN)

setup-eval: $(STAMP_EVAL)

setup-export: $(STAMP_EXPORT)

setup-dev: $(STAMP_DEV)

## The main job: TorchServe with the antialiased ResNet50 (and the probe service), Ctrl-C stops all.
run: setup
	bash scripts/install-system-deps.sh run
	$(PY) -m scripts.run $(ARGS)

## The whole test suite; installs and starts what the tests need.
test: setup-dev
	bash scripts/install-system-deps.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup-dev
	$(PY) -m benchmarks.bench_model
	$(PY) -m benchmarks.bench_runtimes

## Served throughput and latency through a TorchServe it starts, against the same model in-process.
bench-serve: setup-dev
	$(PY) -m benchmarks.bench_serve

## Latency of a 32-shift /v1/stability probe against one in-process forward of the same crops.
bench-probe: setup-dev
	$(PY) -m benchmarks.bench_probe

## Plain classifications' latency under 1 and 4 concurrent worst-case probes, the probes' scheduling off and on.
bench-scheduling: setup-dev
	$(PY) -m benchmarks.bench_scheduling

## TorchServe's CPU time and the readiness predictions of an idle stack, against a prediction at every interval.
bench-idle: setup-dev
	$(PY) -m benchmarks.bench_idle

## Peak memory of a forward pass per view pixel at large crops (the figure behind max_view_pixels_per_forward).
bench-memory: setup-dev
	$(PY) -m benchmarks.bench_memory

## perf_analyzer on the Open Inference Protocol (/v2) of the probe service, beside TorchServe's /predictions.
bench-oip: setup-dev
	bash scripts/install-system-deps.sh bench
	$(PY) -m benchmarks.bench_oip

## Everything GPU-specific in one run: the tests marked gpu and the CUDA benchmarks, written to
## build/gpu-check/results.json and results.md (and $$OUT when set). Without CUDA it marks them skipped.
## On an offline GPU machine: make gpu-check GPU_BUNDLE=build/gpu-bundle (see docs/gpu-check.md).
GPU_BUNDLE ?=
gpu-check: $(if $(GPU_BUNDLE),,setup-dev)
	GPU_BUNDLE=$(GPU_BUNDLE) bash scripts/gpu-check.sh

## TorchServe and a Java runtime for an offline GPU machine: build/gpu-bundle/gpu-bundle.tar.xz.
gpu-bundle: setup-dev
	$(PY) -m scripts.gpu_bundle

## Throughput of the evaluation engines (local, Ray) against the bare prepared model on the same views.
bench-eval: setup-dev
	$(PY) -m benchmarks.bench_eval

## Accuracy and shift consistency over a data set, e.g. make evaluate ARGS="--data DIR --model resnet50_lpf4_finetune"
evaluate: setup-eval
	$(PY) -m antialiased.evaluate $(ARGS)

## ImageNet-P-format translate sequences of your images, e.g. make sequences ARGS="--data DIR --out build/sequences"
## (docs/evaluation.md); then make evaluate ARGS="--sequences build/sequences --model resnet50_lpf4_finetune"
sequences: setup-eval
	$(PY) -m antialiased.sequences make $(ARGS)

clean:
	rm -rf build

## Antialias a baseline and fine-tune it on an ImageFolder (the paper's recipe), e.g.
## make finetune ARGS="--model resnet50_baseline --data DIR --name my_resnet50_lpf4" (docs/finetune.md)
finetune: setup-eval
	$(PY) -m antialiased.finetune $(ARGS)

## Export a model to a file served without its source code, e.g.
## make export ARGS="--model my_resnet18_lpf4 --name mine" (docs/export.md)
export: setup-export
	$(PY) -m antialiased.export $(ARGS)

## The parity table of the ONNX export: every zoo architecture and antialiased timm networks on ONNX Runtime, the
## ResNet50 pair on OpenVINO too, against eager PyTorch (docs/export.md); the tests run a sample of it.
export-check: setup-dev
	$(PY) -m scripts.export_check $(ARGS)

## Training throughput of antialiased.finetune's loop against a bare PyTorch loop (batch 32, 224x224), the two in alternation: ratios per step and per run.
bench-train: setup-dev
	$(PY) -m benchmarks.bench_train
