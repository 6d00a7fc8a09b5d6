#!/usr/bin/env bash
# Makes the add-on images (PostgreSQL, Redis) from Debian's packages, like the language stacks:
# berth/base:bookworm plus `postgresql` or `redis-server`, with a small entrypoint
# (scripts/addons/*-entrypoint.sh). An existing image is kept. An operator whose server can pull
# sets BERTH_ADDON_POSTGRES_IMAGE / BERTH_ADDON_REDIS_IMAGE to an image of their own instead (it must
# honour the same BERTH_ADDON_* variables and /data volume; a PostgreSQL image also /archive, with
# pgBackRest: docs/stateful.md). An image built by an older revision of this script (its label
# berth.addon-image-rev differs) is rebuilt.
# Usage: scripts/addons.sh [postgres|redis ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${BERTH_BASE_IMAGE:-berth/base:bookworm}"
bash scripts/base-image.sh

declare -A PACKAGES=([postgres]="postgresql pgbackrest" [redis]="redis-server redis-tools")
# Raised when an image's contents change (postgres 2: pgBackRest and continuous WAL archiving;
# redis 2: appendfsync everysec stated in the entrypoint).
declare -A REVS=([postgres]="2" [redis]="2")
declare -A USERS=([postgres]="postgres" [redis]="redis")
declare -A TAGS=([postgres]="${BERTH_ADDON_POSTGRES_IMAGE:-berth/addon-postgres:15}" [redis]="${BERTH_ADDON_REDIS_IMAGE:-berth/addon-redis:7}")

build() {
  local kind="$1" tag="${TAGS[$1]}" ctx
  local have
  have=$(docker image inspect -f '{{index .Config.Labels "berth.addon-image-rev"}}' "$tag" 2>/dev/null || echo none)
  if [ "$have" = "${REVS[$kind]}" ] || { [ "$have" = "<no value>" ] && [ "${REVS[$kind]}" = 1 ]; }; then echo "add-on $kind: $tag present"; return; fi
  ctx=$(mktemp -d)
  cp "scripts/addons/$kind-entrypoint.sh" "$ctx/entrypoint.sh"
  local extra=""
  if [ "$kind" = postgres ]; then
    cp scripts/addons/pgbackrest.conf "$ctx/pgbackrest.conf"
    extra="COPY pgbackrest.conf /etc/pgbackrest/pgbackrest.conf"
  fi
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES[$kind]} \\
 && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/berth-addon
$extra
RUN chmod 0755 /usr/local/bin/berth-addon
USER ${USERS[$kind]}
CMD ["/usr/local/bin/berth-addon"]
DOCKERFILE
  docker build --label "berth.addon-image=$kind" --label "berth.addon-image-rev=${REVS[$kind]}" -t "$tag" "$ctx" >"$ctx/build.log" 2>&1 || { tail -20 "$ctx/build.log" >&2; exit 1; }
  rm -rf "$ctx"
  echo "add-on $kind: $tag built"
}

kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(postgres redis)
for k in "${kinds[@]}"; do build "$k"; done
