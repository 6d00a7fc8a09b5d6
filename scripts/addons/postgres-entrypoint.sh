#!/bin/sh
# Berth's PostgreSQL add-on: initialises the cluster on first start (the data volume is empty), then
# runs the server in the foreground. The password comes in BERTH_ADDON_PASSWORD (sealed at rest by
# Berth, given only to this container); the database and user are both named by BERTH_ADDON_DB / _USER.
set -eu
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
export PGDATA="${PGDATA:-/data/pgdata}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  pw=$(mktemp)
  printf '%s\n' "$BERTH_ADDON_PASSWORD" >"$pw"
  "$BIN/initdb" -D "$PGDATA" -U "$BERTH_ADDON_USER" --pwfile="$pw" --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pw"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "unix_socket_directories = '/tmp'" >>"$PGDATA/postgresql.conf"
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
  PGPASSWORD="$BERTH_ADDON_PASSWORD" "$BIN/createdb" -h /tmp -U "$BERTH_ADDON_USER" "$BERTH_ADDON_DB"
  "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  echo "berth: initialised database $BERTH_ADDON_DB"
fi
exec "$BIN/postgres" -D "$PGDATA"
