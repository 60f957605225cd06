#!/usr/bin/env bash
# System packages the tests need (run by `make test`; idempotent, installs only what is missing).
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
# The probe page's browser test drives Debian's chromium through Playwright (no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
