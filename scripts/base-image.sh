#!/usr/bin/env bash
# Makes berth/base:bookworm, the root of every image Berth builds, once per engine; with an argument,
# the base of another Debian release (`trixie`: berth/base:trixie, under the PostgreSQL 17 add-on).
# Where a registry is reachable it pulls debian:<release>-slim; otherwise it makes the root
# filesystem with debootstrap and imports it, so Berth works offline.
# Usage: scripts/base-image.sh [bookworm|trixie]
set -euo pipefail
SUITE="${1:-bookworm}"
case "$SUITE" in bookworm | trixie) ;; *) echo "base image: unknown Debian release '$SUITE'" >&2; exit 2 ;; esac
if [ "$SUITE" = bookworm ]; then IMAGE="${BERTH_BASE_IMAGE:-berth/base:bookworm}"; else IMAGE="${BERTH_BASE_IMAGE_TRIXIE:-berth/base:trixie}"; fi
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
if timeout 60 docker pull -q "debian:$SUITE-slim" >/dev/null 2>&1; then
  docker tag "debian:$SUITE-slim" "$IMAGE"
  echo "base image: $IMAGE from debian:$SUITE-slim"
  exit 0
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
ROOTFS=$(mktemp -d /var/tmp/berth-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
echo "base image: making $IMAGE with debootstrap (about 30 s)..."
timeout 600 debootstrap --variant=minbase "$SUITE" "$ROOTFS" http://deb.debian.org/debian >"/var/tmp/berth-debootstrap-$SUITE.log" 2>&1 \
  || { tail -20 "/var/tmp/berth-debootstrap-$SUITE.log"; exit 1; }
# Slim it like the official image: no apt lists or caches in the layer.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
tar -C "$ROOTFS" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "base image: $IMAGE ready"
