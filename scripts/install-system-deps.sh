#!/usr/bin/env bash
# System packages, installed only where missing (idempotent).
#   install-system-deps.sh run    what `make run` needs: Java 17 for TorchServe
#   install-system-deps.sh test   that, plus what the tests need: chromium, podman and friends
#   install-system-deps.sh bench  that, plus what the benchmarks need: libb64 for perf_analyzer
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
if [ "${1:-run}" = test ]; then
  # The probe page's browser test drives Debian's chromium through Playwright (no browser download).
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # Container tests: podman on runc, name resolution between containers (CNI dnsname), debootstrap for the base image.
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  [ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  # `podman kube play` (tests/containers/test_kube_play.py) builds its pods' pause image from catatonit.
  command -v catatonit >/dev/null || need+=(catatonit)
  # Kubernetes manifests (tests/kubernetes): kubectl with its built-in kustomize 5. Debian's kubernetes-client
  # (1.20) is too old, so kubectl comes from the Kubernetes (or Google Cloud) apt repository where one is set up.
  if ! command -v kubectl >/dev/null; then
    if apt-cache show kubectl >/dev/null 2>&1; then
      need+=(kubectl)
    else
      echo "kubectl: no apt source has it (add the Kubernetes apt repository); the manifest tests fail without it" >&2
    fi
  fi
fi
if [ "${1:-run}" = bench ]; then
  # perf_analyzer (benchmarks/perf_analyzer.py) links libb64.
  [ -e /usr/lib/x86_64-linux-gnu/libb64.so.0d ] || need+=(libb64-0d)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]}; install them (e.g. sudo apt-get install ${need[*]}) and retry" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
