#!/usr/bin/env bash
# Makes the language base images ("stacks") that generated Dockerfiles build FROM, once per engine.
# Only Debian's mirror is reachable from builds here, so each stack is berth/base:bookworm plus the
# language's Debian packages. Building them is slow (npm drags in ~300 packages, over a minute), so
# an image that already exists is kept and only missing ones are built, in parallel.
# An operator who sets BERTH_STACK_<LANG> to another image (an official one, say) opts out of ours.
# Locally added CA certificates (BERTH_CA_DIR, default /usr/local/share/ca-certificates) are trusted
# inside the stacks too: behind a TLS-intercepting proxy, as in many companies and on this project's
# machines, npm and pip fail without them. A change of certificates rebuilds the stacks.
# Usage: scripts/stacks.sh [node|python|go|ruby ...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="${BERTH_BASE_IMAGE:-berth/base:bookworm}"
bash scripts/base-image.sh

declare -A PACKAGES=(
  # ca-certificates: npm, pip and go reach their registries over HTTPS; without recommends nothing
  # else pulls it in.
  [node]="ca-certificates nodejs npm"
  [python]="ca-certificates python3 python3-venv python3-pip"
  # git: `go mod download` falls back to VCS fetches for modules the proxy does not serve.
  [go]="ca-certificates git golang-go"
  [ruby]="ca-certificates ruby ruby-bundler"
)

CA_DIR="${BERTH_CA_DIR:-/usr/local/share/ca-certificates}"
CA_FILES=()
if [ -d "$CA_DIR" ]; then
  while IFS= read -r -d '' f; do CA_FILES+=("$f"); done < <(find "$CA_DIR" -maxdepth 1 -type f -name '*.crt' -print0 | sort -z)
fi
CA_SUM=$( { [ ${#CA_FILES[@]} -gt 0 ] && cat "${CA_FILES[@]}"; } | sha256sum | cut -c1-16)

default_tag() { echo "berth/stack-$1:bookworm"; }

configured_tag() {
  local var="BERTH_STACK_${1^^}"
  echo "${!var:-$(default_tag "$1")}"
}

build_stack() {
  local lang="$1" tag="$2" log="$3" start=$SECONDS ctx="$LOGDIR/ctx-$1"
  mkdir -p "$ctx/local-ca"
  [ ${#CA_FILES[@]} -gt 0 ] && cp "${CA_FILES[@]}" "$ctx/local-ca/"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
COPY local-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES[$lang]} \\
 && update-ca-certificates >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
EOF
  if docker build --label "berth.stack=$lang" --label "berth.stack.ca=$CA_SUM" -t "$tag" "$ctx" >"$log" 2>&1
  then
    echo "stack $lang: $tag ready in $((SECONDS - start)) s"
  else
    echo "stack $lang: build FAILED; last lines:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

langs=("$@")
[ ${#langs[@]} -eq 0 ] && langs=(node python go ruby)

LOGDIR=$(mktemp -d /var/tmp/berth-stacks.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT
declare -A PIDS=()
for lang in "${langs[@]}"; do
  if [ -z "${PACKAGES[$lang]:-}" ]; then
    echo "stacks: unknown language '$lang' (expected node, python, go or ruby)" >&2
    exit 2
  fi
  tag=$(configured_tag "$lang")
  if [ "$tag" != "$(default_tag "$lang")" ]; then
    echo "stack $lang: using $tag from BERTH_STACK_${lang^^}, not building it"
    continue
  fi
  have=$(docker image inspect -f '{{index .Config.Labels "berth.stack.ca"}}' "$tag" 2>/dev/null || echo missing)
  if [ "$have" = "$CA_SUM" ]; then
    echo "stack $lang: $tag present"
    continue
  fi
  [ "$have" != missing ] && echo "stack $lang: local CA certificates changed, rebuilding"
  echo "stack $lang: building $tag (apt-get install ${PACKAGES[$lang]})..."
  build_stack "$lang" "$tag" "$LOGDIR/$lang.log" &
  PIDS[$lang]=$!
done

failed=0
for lang in "${!PIDS[@]}"; do
  wait "${PIDS[$lang]}" || failed=1
done
exit $failed
