#!/bin/sh
# Berth's Redis add-on: password from BERTH_ADDON_PASSWORD, data (RDB snapshots and the append-only
# file) in the data volume, listening on the project network only (the container publishes no port).
# Both persistences: the append-only file, fsynced every second (a kill -9 loses at most the last
# second of writes), and an RDB snapshot a minute after a change (what backups and restores use).
set -eu
mkdir -p /data/redis
exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data/redis --appendonly yes --appendfsync everysec \
  --save 60 1 --requirepass "$BERTH_ADDON_PASSWORD"
