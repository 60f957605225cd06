# One venv inside the repo; every target that needs it depends on its stamp, so set-up is idempotent.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: setup setup-dev run test lint bench bench-serve bench-probe bench-eval evaluate clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt $(STAMP_RUN)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(STAMP_RUN)

setup-dev: $(STAMP_DEV)

## The main job: TorchServe with the antialiased ResNet50 (and the probe service), Ctrl-C stops all.
run: setup
	bash scripts/install-system-deps.sh run
	$(PY) -m scripts.run

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

## Served throughput and latency through a TorchServe it starts, against the same model in-process.
bench-serve: setup-dev
	$(PY) -m benchmarks.bench_serve

## Latency of a 32-shift /v1/stability probe against one in-process forward of the same crops.
bench-probe: setup-dev
	$(PY) -m benchmarks.bench_probe

## Throughput of the evaluation engines (local, Ray) against the bare prepared model on the same views.
bench-eval: setup-dev
	$(PY) -m benchmarks.bench_eval

## Accuracy and shift consistency over a data set, e.g. make evaluate ARGS="--data DIR --model resnet50_lpf4_finetune"
evaluate: setup
	$(PY) -m antialiased.evaluate $(ARGS)

clean:
	rm -rf build
