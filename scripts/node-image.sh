#!/usr/bin/env bash
# Makes berth/node:bookworm, a Docker host in a container (Debian's docker.io on berth/base), once
# per engine: the cluster tests run a Swarm of these (see docs/cluster.md and test/cluster/).
set -euo pipefail
IMAGE="${BERTH_NODE_IMAGE:-berth/node:bookworm}"
BASE="${BERTH_BASE_IMAGE:-berth/base:bookworm}"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
echo "node image: building $IMAGE (Debian's docker.io, about a minute)..."
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io iproute2 ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
VOLUME /var/lib/docker
CMD ["dockerd"]
DOCKERFILE
timeout 900 docker build -q -t "$IMAGE" "$ctx" >/dev/null
echo "node image: $IMAGE ready"
