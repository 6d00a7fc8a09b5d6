#!/usr/bin/env bash
# Installs the Debian packages Berth needs, only those missing, and the npm dependencies when the
# lockfile changed. Safe to run again: on a set-up machine it does nothing in about a second.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (it installs packages)" >&2; exit 1; }
# shellcheck source=scripts/node.sh
source scripts/node.sh

# socat: to read HAProxy's runtime API by hand (docs/operations.md).
# buildah: tenants' builds (own image stores, docs/security.md "Builds"); iptables: the build network's fence;
# docker-registry: the loopback registry built images reach the engine through (src/imagebuild/handover.ts).
want=(docker.io git haproxy openssl socat debootstrap ca-certificates curl buildah iptables docker-registry "$@")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/var/tmp/berth-apt.log 2>&1 \
    || { tail -20 /var/tmp/berth-apt.log; exit 1; }
fi
# Debian's haproxy package enables a system haproxy (its own /etc/haproxy config, port 80 in some
# setups); Berth runs one HAProxy per data directory itself, so the packaged unit stays off.
# The same for nginx and caddy (a benchmark baseline and the upgrade test only), and for
# docker-registry (its unit listens on :5000; Berth runs its own: the builds' hand-over, and in cluster mode docs/cluster.md).
for unit in haproxy nginx caddy docker-registry; do
  if command -v systemctl >/dev/null && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
done

stamp=node_modules/.berth-lock-sha
# A new Node.js major needs native modules compiled again: its version is part of the stamp.
sum="$(sha256sum package-lock.json | cut -d' ' -f1) $(node --version)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "deps: installing npm packages (better-sqlite3 compiles from source, about a minute)..."
  npm ci --no-audit --no-fund --loglevel=error >/var/tmp/berth-npm.log 2>&1 || { tail -30 /var/tmp/berth-npm.log; exit 1; }
  echo "$sum" > "$stamp"
fi
