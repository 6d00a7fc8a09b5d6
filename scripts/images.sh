#!/usr/bin/env bash
# Makes every image Berth builds from Debian's packages, once per engine: the base image, then the
# language stacks (scripts/stacks.sh) and the add-on images (scripts/addons.sh) side by side
# (downloads and package installs, mostly waiting). Existing images are kept. Run by up.sh and test.sh.
# Usage: scripts/images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/base-image.sh
bash scripts/stacks.sh &
stacks=$!
bash scripts/addons.sh &
addons=$!
# Either failing fails the set-up, once the other has ended too (no build left running behind it).
stacks_rc=0
wait "$stacks" || stacks_rc=$?
wait "$addons"
[ "$stacks_rc" -eq 0 ] || exit "$stacks_rc"
