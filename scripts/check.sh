#!/usr/bin/env bash
# The fast check, for every change (CONTRIBUTING.md): type checks, lint, the import rules of
# docs/architecture.md, and the tests that run on fakes (no Docker, HAProxy or PostgreSQL).
# The pieces run side by side, with caches (node_modules/.cache): a check after a small change
# takes a few seconds. `npm test` stays the full suite on the real parts.
# Usage: npm run check            (or: bash scripts/check.sh [--static]: without tsc and the tests,
#                                  as scripts/test.sh runs it after its own build)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/node.sh
source scripts/node.sh
bin=node_modules/.bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p node_modules/.cache/eslint node_modules/.cache/dependency-cruiser node_modules/.cache/tsc

# The tests that need none of the real parts: the controllers on the in-memory engine and router,
# the API's handlers through fastify.inject on SQLite, and pure logic. A new test file on fakes
# joins this list (and runs in `npm test` too, as every dist/test/**/*.test.js does).
# Two lists, run as two processes side by side; each list in one process (--test-isolation=none):
# the fast tests share their start-up (Node, Kysely, Fastify, the migrations' template) instead of
# paying it per file, about half their CPU time.
# Every file of test/controllers/ (the in-memory engine) and test/domain/ (rules on SQLite) is fast by rule.
in_folder() { for f in test/"$1"/*.test.ts; do f=${f#test/}; echo "${f%.test.ts}"; done; }
mapfile -t controllers < <(in_folder controllers)
mapfile -t domain < <(in_folder domain)
FAST_TESTS_1=(
  "${controllers[@]}"
  cluster/node-controller
)
FAST_TESTS_2=(
  api/handlers
  cluster/replica-service cluster/volume-placement router/route-controller router/plan router/process-identity lib/atomic-file runtime/docker-client
  integrations/images-keep integrations/webhooks-verify
  security/images-user security/images-preview security/images-migration
  store/generation store/codecs builder/detect builder/package-managers builder/buildah-explain builder/cache-mounts builder/node-version builder/lang-version cli/argv logs/drain-units
  "${domain[@]}"
)

now() { date +%s%N; }
# piece NAME CMD...: runs in the background, output kept for a failure, time recorded.
piece() {
  local name=$1
  shift
  (
    s=$(now)
    rc=0
    "$@" >"$out/$name.log" 2>&1 || rc=$?
    echo "$rc $(( ($(now) - s) / 1000000 ))" >"$out/$name.rc"
  ) &
}
start=$(now)
piece imports "$bin/depcruise" --config .dependency-cruiser.cjs --cache node_modules/.cache/dependency-cruiser src web/src
piece lint "$bin/eslint" --cache --cache-location node_modules/.cache/eslint/ --max-warnings 0 src test bench web
# Incremental (state under node_modules/.cache): only what a change touches is checked again.
piece web-types "$bin/tsc" -p web/tsconfig.json --incremental --tsBuildInfoFile node_modules/.cache/tsc/web.tsbuildinfo
if [ "${1:-}" != "--static" ]; then
  # Compiling is the server side's type check; the tests then run on what it emitted. Its
  # incremental state is in dist/, so a removed dist/ is compiled again in full.
  piece types "$bin/tsc" -p tsconfig.json --incremental --tsBuildInfoFile dist/.tsbuildinfo
  types_pid=$!
  if wait "$types_pid" && [ "$(cut -d' ' -f1 "$out/types.rc")" = 0 ]; then
    piece tests-1 node --test --test-isolation=none --test-reporter=tap $(printf 'dist/test/%s.test.js ' "${FAST_TESTS_1[@]}")
    piece tests-2 node --test --test-isolation=none --test-reporter=tap $(printf 'dist/test/%s.test.js ' "${FAST_TESTS_2[@]}")
  fi
fi
wait

status=0
summary=()
for f in "$out"/*.rc; do
  name=$(basename "$f" .rc)
  read -r rc ms <"$f"
  summary+=("$name $(awk "BEGIN{printf \"%.1f\", $ms/1000}") s")
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "check: $name FAILED:" >&2
    # A test run's TAP is long: its failures and the summary say what broke.
    if [ "${name#tests}" != "$name" ]; then grep -v '^ *\(ok\|#\|---\|\.\.\.\|duration_ms\|type:\|1\.\.\)' "$out/$name.log" | grep -v '^ *$' | head -200 >&2 || true; tail -8 "$out/$name.log" >&2; else cat "$out/$name.log" >&2; fi
  fi
done
if [ -f "$out/tests-1.log" ]; then
  cat "$out"/tests-*.log | awk '/^# (tests|pass|fail) /{n[$2]+=$3} END{printf "check: fast tests: %d, passed %d, failed %d\n", n["tests"], n["pass"], n["fail"]}'
fi
echo "check: $( IFS=,; echo "${summary[*]}" | sed 's/,/, /g'); $(awk "BEGIN{printf \"%.1f\", ($(now) - $start)/1000000000}") s in all"
[ "$status" -eq 0 ] && echo "check: OK" || echo "check: FAILED" >&2
exit "$status"
