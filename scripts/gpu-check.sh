#!/usr/bin/env bash
# make gpu-check: run scripts/gpu_check.py (arguments passed on).
#   here:                   with the project's venv (make setup-dev)
#   GPU_BUNDLE=build/gpu-bundle on an offline GPU machine whose python3 has torch and torchvision:
#                           with that python3 (or $GPU_PYTHON), the packages and the Java runtime of the
#                           bundle that `make gpu-bundle` made here (unpacked into build/gpu-env)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${GPU_BUNDLE:-}" ]; then
  exec .venv/bin/python -m scripts.gpu_check "$@"
fi
env_dir=build/gpu-env
rm -rf "$env_dir"
mkdir -p "$env_dir"
tar -xJf "$GPU_BUNDLE/gpu-bundle.tar.xz" -C "$env_dir"
export PYTHONPATH="$PWD/$env_dir/site${PYTHONPATH:+:$PYTHONPATH}"
export JAVA_HOME="$PWD/$env_dir/jre"
exec "${GPU_PYTHON:-python3}" -m scripts.gpu_check "$@"
