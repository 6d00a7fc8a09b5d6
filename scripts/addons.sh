#!/usr/bin/env bash
# Makes the add-on images (PostgreSQL 15 and 17, Redis) from Debian's packages, like the language
# stacks: PostgreSQL 15 and Redis on berth/base:bookworm, PostgreSQL 17 on berth/base:trixie (Debian
# 13 ships it), each plus its packages and a small entrypoint (scripts/addons/*-entrypoint.sh; the
# PostgreSQL one finds the server's version itself). An existing image is kept. An operator whose
# server can pull sets BERTH_ADDON_POSTGRES_IMAGE / BERTH_ADDON_POSTGRES17_IMAGE /
# BERTH_ADDON_REDIS_IMAGE to an image of their own instead (it must honour the same BERTH_ADDON_*
# variables and /data volume; a PostgreSQL image also /archive, with pgBackRest: docs/stateful.md).
# An image built by an older revision of this script (its label berth.addon-image-rev differs) is rebuilt.
# Usage: scripts/addons.sh [postgres|postgres17|redis ...]   (default: all three, side by side)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A PACKAGES=([postgres]="postgresql-15 pgbackrest" [postgres17]="postgresql-17 pgbackrest" [redis]="redis-server redis-tools")
declare -A SUITES=([postgres]="bookworm" [postgres17]="trixie" [redis]="bookworm")
declare -A BASES=([bookworm]="${BERTH_BASE_IMAGE:-berth/base:bookworm}" [trixie]="${BERTH_BASE_IMAGE_TRIXIE:-berth/base:trixie}")
# Raised when an image's contents change (postgres 2: pgBackRest and continuous WAL archiving;
# redis 2: appendfsync everysec stated in the entrypoint).
declare -A REVS=([postgres]="2" [postgres17]="1" [redis]="2")
declare -A USERS=([postgres]="postgres" [postgres17]="postgres" [redis]="redis")
declare -A ENTRYPOINTS=([postgres]="postgres" [postgres17]="postgres" [redis]="redis")
declare -A TAGS=([postgres]="${BERTH_ADDON_POSTGRES_IMAGE:-berth/addon-postgres:15}" [postgres17]="${BERTH_ADDON_POSTGRES17_IMAGE:-berth/addon-postgres:17}" [redis]="${BERTH_ADDON_REDIS_IMAGE:-berth/addon-redis:7}")

build() {
  local kind="$1" tag="${TAGS[$1]}" ctx
  local have
  have=$(docker image inspect -f '{{index .Config.Labels "berth.addon-image-rev"}}' "$tag" 2>/dev/null || echo none)
  if [ "$have" = "${REVS[$kind]}" ] || { [ "$have" = "<no value>" ] && [ "${REVS[$kind]}" = 1 ]; }; then echo "add-on $kind: $tag present"; return; fi
  ctx=$(mktemp -d)
  cp "scripts/addons/${ENTRYPOINTS[$kind]}-entrypoint.sh" "$ctx/entrypoint.sh"
  local extra=""
  if [ "${ENTRYPOINTS[$kind]}" = postgres ]; then
    cp scripts/addons/pgbackrest.conf "$ctx/pgbackrest.conf"
    extra="COPY pgbackrest.conf /etc/pgbackrest/pgbackrest.conf"
  fi
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM ${BASES[${SUITES[$kind]}]}
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
[ ${#kinds[@]} -eq 0 ] && kinds=(postgres postgres17 redis)
# The bases first, one after the other (a debootstrap each where no registry answers; the first may
# install debootstrap itself), then the images side by side.
for suite in $(for k in "${kinds[@]}"; do echo "${SUITES[$k]}"; done | sort -u); do bash scripts/base-image.sh "$suite"; done
wait_all() { local rc=0; for p in "$@"; do wait "$p" || rc=1; done; return $rc; }
pids=()
for k in "${kinds[@]}"; do build "$k" & pids+=($!); done
wait_all "${pids[@]}"
