#!/usr/bin/env bash
# podman with this project's settings: runc, cgroupfs, ulimits (scripts/podman-containers.conf) and its own
# storage under $ANTIALIASED_PODMAN_DIR, so the tests neither touch nor depend on the host's podman setup.
# Usage: scripts/podman.sh ARGS...   (also usable as podman-compose's --podman-path)
# Storage is passed as --root/--runroot flags: a storage.conf would make every container exit wait 20 s.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${ANTIALIASED_PODMAN_DIR:-/var/tmp/antialiased-serving-podman}"
export CONTAINERS_CONF="$here/podman-containers.conf"
exec podman --root "$state/root" --runroot "$state/runroot" "$@"
