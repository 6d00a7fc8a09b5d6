#!/bin/sh
# Berth's Redis add-on: password from BERTH_ADDON_PASSWORD, data (RDB snapshots and the append-only
# file) in the data volume, listening on the project network only (the container publishes no port).
set -eu
mkdir -p /data/redis
exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data/redis --appendonly yes \
  --save 60 1 --requirepass "$BERTH_ADDON_PASSWORD"
