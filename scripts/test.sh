#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs and starts what the tests need
# (Docker Engine, PostgreSQL, HAProxy, git, base images), builds, and runs every test against the real parts.
# Usage: npm test   (or: bash scripts/test.sh [test-file-filter])
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
# The tests, the control plane they start and the build run on Berth's Node.js LTS (scripts/node.sh).
# shellcheck source=scripts/node.sh
source scripts/node.sh

# pebble: ACME tests; docker-registry and apache2-utils (htpasswd): private registry tests; caddy: only for
# the upgrade test (test/router/caddy-handover); nginx-light and wrk: benchmark baselines; rsyslog and
# rsyslog-gnutls: the syslog-over-TLS receiver of the log drain test (test/logs/drains), started by the test itself.
bash scripts/deps.sh postgresql chromium pebble docker-registry apache2-utils nginx-light wrk caddy rsyslog rsyslog-gnutls
bash scripts/docker.sh
export BERTH_TEST_PG_URL
BERTH_TEST_PG_URL=$(bash scripts/postgres.sh)
echo "test: building..."
npm run build
bash scripts/images.sh
echo "test: set-up took $((SECONDS - start)) s"

filter="${1:-}"
mapfile -t files < <(find dist/test -name '*.test.js' | sort | grep -- "$filter")
[ ${#files[@]} -gt 0 ] || { echo "test: no test files match '$filter'" >&2; exit 1; }
# Two kinds of test run after the main suite. First the tests that count failed requests while
# traffic moves (zero-downtime, kill -9 mid-rollout): beside the main suite's image builds, which
# take both cores for minutes, the scheduler can stall the router or the app for seconds, which
# measures the test machine, not Berth. Among themselves they run in two lanes side by side, each
# test with its own control plane, router and replicas. Then, alone, the engine-wide fault tests:
# they restart the Docker Engine and PostgreSQL under everything else. Each run prints its own
# summary; the suite fails if any fails.
main=()
counted=()
solo=()
for f in "${files[@]}"; do
  case "$f" in
    dist/test/faults/engine*) solo+=("$f") ;;
    dist/test/faults/control-plane* | dist/test/ha/control-planes* | dist/test/ha/read-cache* | dist/test/router/edge* | dist/test/router/tenants* | dist/test/router/haproxy* | dist/test/router/caddy-handover* | dist/test/runtime/apps* | dist/test/cluster/apps* | dist/test/cluster/drain*) counted+=("$f") ;;
    *) main+=("$f") ;;
  esac
done
# The long files (browsers, builds, clusters, add-ons) first: with two slots, a long file started
# last keeps one slot busy while the other idles.
# The longest files of all (several minutes each on this machine) start first of all.
longest=()
long=()
short=()
for f in "${main[@]}"; do
  case "$f" in
    dist/test/stateful/addon-pitr.test.js | dist/test/builds/language* | dist/test/builds/java* | dist/test/web/dashboard.test.js) longest+=("$f") ;;
    dist/test/web/* | dist/test/cluster/* | dist/test/builds/* | dist/test/stateful/* | dist/test/integrations/* | dist/test/process-types/*) long+=("$f") ;;
    *) short+=("$f") ;;
  esac
done
main=(${longest[@]+"${longest[@]}"} ${long[@]+"${long[@]}"} ${short[@]+"${short[@]}"})
status=0
# Lint and the import rules (scripts/check.sh without the compile and the fast tests, which this
# suite runs anyway): a failure fails the suite but does not hold back the tests.
bash scripts/check.sh --static || status=1
if [ ${#main[@]} -gt 0 ]; then
  # Two at a time: the machine has two cores and most tests drive Docker.
  times=$(mktemp)
  main_start=$SECONDS
  node --test --test-reporter=tap --test-reporter-destination=stdout --test-reporter=./scripts/file-times.mjs --test-reporter-destination="$times" \
    --test-concurrency="${BERTH_TEST_CONCURRENCY:-2}" --test-timeout=600000 "${main[@]}" || status=1
  echo "test: the main group took $((SECONDS - main_start)) s; its slowest files:"
  head -n 15 "$times"
  rm -f "$times"
fi
if [ ${#counted[@]} -gt 0 ]; then
  # Two lanes side by side: the cluster files (each on Docker-in-Docker nodes of its own, one at a
  # time: two of them at once lost their routes under load) and the others. The cluster lane's
  # output is printed when both have ended.
  cluster=()
  others=()
  for f in "${counted[@]}"; do
    case "$f" in dist/test/cluster/*) cluster+=("$f") ;; *) others+=("$f") ;; esac
  done
  echo "test: two lanes side by side (request counts under traffic): ${cluster[*]} | ${others[*]}"
  lane=$(mktemp)
  lane_rc=0
  if [ ${#cluster[@]} -gt 0 ]; then
    node --test --test-reporter=tap --test-concurrency=1 --test-timeout=600000 "${cluster[@]}" > "$lane" 2>&1 &
    lane_pid=$!
  fi
  if [ ${#others[@]} -gt 0 ]; then
    node --test --test-reporter=tap --test-concurrency=1 --test-timeout=600000 "${others[@]}" || status=1
  fi
  if [ ${#cluster[@]} -gt 0 ]; then
    wait "$lane_pid" || lane_rc=$?
    echo "test: the cluster lane:"
    cat "$lane"
    [ "$lane_rc" -eq 0 ] || status=1
  fi
  rm -f "$lane"
fi
if [ ${#solo[@]} -gt 0 ]; then
  echo "test: alone (Docker Engine and PostgreSQL restarts): ${solo[*]}"
  node --test --test-reporter=tap --test-concurrency=1 --test-timeout=600000 "${solo[@]}" || status=1
fi
[ "$status" -eq 0 ] || echo "test: FAILED (see the summaries above)" >&2
exit "$status"
