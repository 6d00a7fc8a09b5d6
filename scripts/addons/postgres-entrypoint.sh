#!/bin/sh
# Berth's PostgreSQL add-on: initialises the cluster on first start (the data volume is empty), then
# runs the server in the foreground. The password comes in BERTH_ADDON_PASSWORD (sealed at rest by
# Berth, given only to this container); the database and user are both named by BERTH_ADDON_DB / _USER.
# With an archive volume at /archive (Berth mounts one), WAL is archived continuously into the
# pgBackRest repository there (/etc/pgbackrest/pgbackrest.conf, stanza "berth"), and the server also
# listens on a socket in /data/run, where Berth's base-backup helper (which mounts both volumes) reaches it.
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
if [ -d /archive ] && command -v pgbackrest >/dev/null; then
  mkdir -p /archive/pgbackrest /data/run
  # Offline: reads the cluster's identity from its control file. Does nothing when the stanza exists.
  pgbackrest --stanza=berth --no-online stanza-create >/dev/null
  exec "$BIN/postgres" -D "$PGDATA" -c unix_socket_directories=/tmp,/data/run -c archive_mode=on \
    -c "archive_command=pgbackrest --stanza=berth archive-push %p" -c archive_timeout=60
fi
exec "$BIN/postgres" -D "$PGDATA"
