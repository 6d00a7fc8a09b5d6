#!/usr/bin/env bash
# Makes the add-on images (PostgreSQL, Redis) from Debian's packages, like the language stacks:
# berth/base:bookworm plus `postgresql` or `redis-server`, with a small entrypoint
# (scripts/addons/*-entrypoint.sh). An existing image is kept. An operator whose server can pull
# sets BERTH_ADDON_POSTGRES_IMAGE / BERTH_ADDON_REDIS_IMAGE to an image of their own instead (it must
# honour the same BERTH_ADDON_* variables and /data volume).
# Usage: scripts/addons.sh [postgres|redis ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${BERTH_BASE_IMAGE:-berth/base:bookworm}"
bash scripts/base-image.sh

declare -A PACKAGES=([postgres]="postgresql" [redis]="redis-server redis-tools")
declare -A USERS=([postgres]="postgres" [redis]="redis")
declare -A TAGS=([postgres]="${BERTH_ADDON_POSTGRES_IMAGE:-berth/addon-postgres:15}" [redis]="${BERTH_ADDON_REDIS_IMAGE:-berth/addon-redis:7}")

build() {
  local kind="$1" tag="${TAGS[$1]}" ctx
  if docker image inspect "$tag" >/dev/null 2>&1; then echo "add-on $kind: $tag present"; return; fi
  ctx=$(mktemp -d)
  cp "scripts/addons/$kind-entrypoint.sh" "$ctx/entrypoint.sh"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES[$kind]} \\
 && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/berth-addon
RUN chmod 0755 /usr/local/bin/berth-addon
USER ${USERS[$kind]}
CMD ["/usr/local/bin/berth-addon"]
DOCKERFILE
  docker build --label "berth.addon-image=$kind" -t "$tag" "$ctx" >"$ctx/build.log" 2>&1 || { tail -20 "$ctx/build.log" >&2; exit 1; }
  rm -rf "$ctx"
  echo "add-on $kind: $tag built"
}

kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(postgres redis)
for k in "${kinds[@]}"; do build "$k"; done
