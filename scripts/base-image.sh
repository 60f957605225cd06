#!/usr/bin/env bash
# Build the local Debian bookworm base image with debootstrap, for hosts that reach no image registry.
# Usage: scripts/base-image.sh [IMAGE]   (default localhost/debian:bookworm; does nothing if it exists)
# The Debian mirror is the one apt on this host uses; the host's extra CA certificates (Debian's local
# certificates folder) are copied in, so package downloads inside builds pass a TLS-intercepting proxy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${1:-localhost/debian:bookworm}"
podman="$here/podman.sh"
state="${ANTIALIASED_PODMAN_DIR:-/var/tmp/antialiased-serving-podman}"
mkdir -p "$state"

exec 9>"$state/base-image.lock"
flock 9
if "$podman" image exists "$image"; then
  echo "base image $image exists, reusing it"
  exit 0
fi

# Sources of the host's apt for bookworm (main, updates, security); the first one is the mirror.
sources="$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' | awk '$2 ~ /^bookworm/' | sort -u)"
mirror="$(awk '$2 == "bookworm" {print $1; exit}' <<<"$sources")"
if [ -z "$mirror" ]; then
  echo "no bookworm mirror in apt's sources: run 'apt-get update' (or configure apt) and retry" >&2
  exit 1
fi

rootfs="$(mktemp -d "$state/rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 ||
  { tail -20 "$state/debootstrap.log"; exit 1; }

awk '{print "deb " $1 " " $2 " main"}' <<<"${sources:-$mirror bookworm}" >"$rootfs/etc/apt/sources.list"
mkdir -p "$rootfs/usr/local/share/ca-certificates"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/* "$rootfs"/var/log/*.log

tar -C "$rootfs" --numeric-owner -c . | "$podman" import --quiet --change 'CMD ["bash"]' - "$image" >/dev/null
echo "base image $image built"
