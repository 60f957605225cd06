#!/usr/bin/env bash
# System packages the tests need (run by `make test`; idempotent, installs only what is missing).
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
# The probe page's browser test drives Debian's chromium through Playwright (no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
# Container tests: podman on runc, name resolution between containers (CNI dnsname), debootstrap for the base image.
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
