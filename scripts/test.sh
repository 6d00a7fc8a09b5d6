#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs and starts what the tests need
# (Docker Engine, PostgreSQL, Caddy, git, base images), builds, and runs every test against the real parts.
# Usage: npm test   (or: bash scripts/test.sh [test-file-filter])
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

bash scripts/deps.sh postgresql
bash scripts/docker.sh
export BERTH_TEST_PG_URL
BERTH_TEST_PG_URL=$(bash scripts/postgres.sh)
echo "test: building..."
npx tsc -p tsconfig.json
bash scripts/base-image.sh
bash scripts/stacks.sh
echo "test: set-up took $((SECONDS - start)) s"

filter="${1:-}"
mapfile -t files < <(find dist/test -name '*.test.js' | sort | grep -- "$filter")
[ ${#files[@]} -gt 0 ] || { echo "test: no test files match '$filter'" >&2; exit 1; }
# Two at a time: the machine has two cores and most tests drive Docker.
node --test --test-concurrency="${BERTH_TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
