#!/usr/bin/env bash
# Build the Debian base image the simulator is built FROM. No registry can be reached here,
# so the base comes from debootstrap + `docker import`. Cached: rebuilt only when missing.
set -euo pipefail
name="${1:-waa-base:bookworm}"
if docker image inspect "$name" >/dev/null 2>&1; then
  echo "base image $name present"; exit 0
fi
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs=$(mktemp -d /var/tmp/waa-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,ca-certificates,procps bookworm "$rootfs" "$mirror" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | docker import - "$name" >/dev/null
echo "base image $name built"
