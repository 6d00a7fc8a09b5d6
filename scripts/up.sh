#!/usr/bin/env bash
# Brings Berth up on this machine: installs what is missing (Docker Engine, git, HAProxy), builds,
# makes the base images, and (re)starts the control plane in the background. Idempotent: on a
# machine that is already set up it rebuilds what changed and restarts the control plane; apps and
# routes keep serving meanwhile.
# Usage: bash scripts/up.sh      (configuration: environment variables, see README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# The control plane and the CLI run on Berth's Node.js LTS, installed once (scripts/node.sh).
# shellcheck source=scripts/node.sh
source scripts/node.sh

export BERTH_DATA_DIR="${BERTH_DATA_DIR:-/var/lib/berth}"
mkdir -p "$BERTH_DATA_DIR" && chmod 700 "$BERTH_DATA_DIR"
ENVFILE="$BERTH_DATA_DIR/berth.env"

# Settings given now win; settings given on an earlier run are kept, so a re-run changes nothing by surprise.
VARS=(SERVER_PORT SERVER_HOST DOCKER_HOST DATABASE_URL POSTGRES_HOST POSTGRES_PORT POSTGRES_USER POSTGRES_PASSWORD
  POSTGRES_DB ROUTER_DOMAIN ROUTER_HTTP_PORT ROUTER_HTTPS_PORT ROUTER_ACME_EMAIL LOG_LEVEL
  BERTH_SECRET_KEY BERTH_BUILD_CONCURRENCY BERTH_STACK_NODE BERTH_STACK_PYTHON BERTH_STACK_GO BERTH_STACK_RUBY
  BERTH_CLUSTER BERTH_REGISTRY_ADDR BERTH_REGISTRY_PORT BERTH_DOCKER_CERTS_DIR
  ROUTER_ACME_DIRECTORY ROUTER_ACME_CA_FILE ROUTER_INTERNAL_DOMAINS ROUTER_REDIRECT_HTTPS ROUTER_ACCESS_LOG
  BERTH_BASE_IMAGE BERTH_BUILD_MEMORY_MB BERTH_BUILD_TIMEOUT_S BERTH_BUILD_PIDS BERTH_BUILD_STORE
  BERTH_IMAGE_KEEP BERTH_IMAGE_GC_INTERVAL_S BERTH_ADDON_POSTGRES_IMAGE BERTH_ADDON_POSTGRES17_IMAGE BERTH_ADDON_POSTGRES_VERSION
  BERTH_ADDON_REDIS_IMAGE BERTH_BASE_IMAGE_TRIXIE BERTH_LOG_RETENTION_DAYS BERTH_LOG_RETENTION_MB
  BERTH_NOTIFY_MAX_ATTEMPTS BERTH_NOTIFY_RETRY_BASE_MS BERTH_NOTIFY_TIMEOUT_S
  BERTH_SHARED_IMAGES BERTH_EGRESS_ALLOW BERTH_CONTROL_HOSTS BERTH_DOMAIN_VERIFY BERTH_DNS_RESOLVER
  BERTH_DEFAULT_CPU BERTH_PLACEMENT_LABELS BERTH_AUDIT_RETENTION_DAYS
  BERTH_LOGIN_MAX_FAILURES_PER_ADDRESS BERTH_LOGIN_MAX_FAILURES_PER_USER BERTH_LOGIN_WINDOW_S
  BERTH_QUOTA_PROJECTS BERTH_QUOTA_APPS_PER_PROJECT BERTH_QUOTA_REPLICAS BERTH_QUOTA_MEMORY_MB BERTH_QUOTA_CRON_MIN_INTERVAL_S
  BERTH_OIDC_ISSUER BERTH_OIDC_CLIENT_ID BERTH_OIDC_CLIENT_SECRET)
declare -A given=()
for v in "${VARS[@]}"; do [ -n "${!v+x}" ] && given[$v]="${!v}"; done
# shellcheck disable=SC1090
[ -f "$ENVFILE" ] && source "$ENVFILE"
for v in "${!given[@]}"; do export "$v=${given[$v]}"; done
: > "$ENVFILE.new" && chmod 600 "$ENVFILE.new"
for v in "${VARS[@]}"; do [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}" >> "$ENVFILE.new"; done
mv "$ENVFILE.new" "$ENVFILE"
PORT="${SERVER_PORT:-8080}"

# Cluster mode runs Berth's own image registry (Debian's docker-registry, which deps.sh installs for builds too), its account hashed by htpasswd.
cluster_pkgs=()
case "${BERTH_CLUSTER:-}" in 1 | true) cluster_pkgs=(apache2-utils) ;; esac
bash scripts/deps.sh "${cluster_pkgs[@]}"
bash scripts/docker.sh
# Only Caddy's reloads needed net.ipv4.tcp_migrate_req; HAProxy changes routes without reloading.
rm -f /etc/sysctl.d/90-berth.conf
echo "up: building..."
npm run build
# The CLI runs on the same Node.js whatever the user's PATH says.
rm -f /usr/local/bin/berth
printf '#!/bin/sh\nexec %q %q "$@"\n' "$(command -v node)" "$ROOT/dist/src/cli/main.js" > /usr/local/bin/berth
chmod 755 /usr/local/bin/berth
bash scripts/images.sh

PIDFILE="$BERTH_DATA_DIR/berth.pid"
LOG="$BERTH_DATA_DIR/berth.log"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  pid=$(cat "$PIDFILE")
  echo "up: restarting the control plane (pid $pid)..."
  kill -TERM "$pid"
  for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
# An install from before HAProxy ran Caddy as its router, on the same ports. Both bind with
# SO_REUSEPORT, so HAProxy can start beside it: once HAProxy serves every route, Caddy is stopped
# gracefully (its in-flight requests finish) and the ports are HAProxy's alone.
CADDY_PID=""
if [ -f "$BERTH_DATA_DIR/caddy/caddy.pid" ]; then
  p=$(cat "$BERTH_DATA_DIR/caddy/caddy.pid")
  if kill -0 "$p" 2>/dev/null && grep -q caddy "/proc/$p/cmdline" 2>/dev/null; then CADDY_PID=$p; fi
fi
LOG_FROM=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
echo "up: starting the control plane on port $PORT..."
# Its own session: it outlives this script and the terminal it ran in.
# A small young generation and one V8 helper thread keep the idle control plane small, and a fixed
# mmap threshold gives large buffers (a login's 16 MB scrypt) back to the system when freed instead
# of leaving them in a thread's malloc arena (figures: docs/performance.md).
MALLOC_MMAP_THRESHOLD_=131072 setsid node --max-semi-space-size=1 --v8-pool-size=1 "$ROOT/dist/src/server/main.js" >>"$LOG" 2>&1 </dev/null &
echo $! > "$PIDFILE"
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    if [ -n "$CADDY_PID" ]; then
      # The route controller starts HAProxy with every route in its first pass ("haproxy started").
      for _ in $(seq 1 120); do tail -c +"$((LOG_FROM + 1))" "$LOG" | grep -q '"msg":"haproxy started"' && break; sleep 0.25; done
      t0=$(date +%s%N)
      kill -TERM "$CADDY_PID"
      for _ in $(seq 1 200); do kill -0 "$CADDY_PID" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$CADDY_PID" 2>/dev/null && kill -KILL "$CADDY_PID"
      rm -f "$BERTH_DATA_DIR/caddy/caddy.pid"
      echo "up: the router moved from Caddy to HAProxy (Caddy stopped $(( ($(date +%s%N) - t0) / 1000000 )) ms after HAProxy served every route)"
    fi
    echo
    echo "Berth is up: http://127.0.0.1:$PORT  (API docs: /api/docs, log: $LOG)"
    if [ -f "$BERTH_DATA_DIR/initial-admin-password" ]; then
      echo "Log in:  berth login --server http://127.0.0.1:$PORT -u admin -p '$(cat "$BERTH_DATA_DIR/initial-admin-password")'"
      echo "(the generated admin password; change it with: berth passwd)"
    else
      echo "Log in:  berth login --server http://127.0.0.1:$PORT -u admin"
    fi
    exit 0
  fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
  sleep 0.5
done
echo "up: the control plane did not become healthy; last log lines:" >&2
tail -30 "$LOG" >&2
exit 1
