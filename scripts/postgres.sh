#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages if missing, starts it, and makes a role that may create
# databases. Prints the connection URL on stdout. Used by the test command; an operator who wants
# PostgreSQL for Berth can use it too and pass the URL as DATABASE_URL.
set -euo pipefail
ROLE="${BERTH_PG_ROLE:-berth}"
PASSWORD="${BERTH_PG_PASSWORD:-berth-local-only}"
if ! command -v pg_ctlcluster >/dev/null; then
  echo "postgres: installing postgresql..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
VERSION=$(pg_lsclusters -h | awk 'NR==1{print $1}')
CLUSTER=$(pg_lsclusters -h | awk 'NR==1{print $2}')
PORT=$(pg_lsclusters -h | awk 'NR==1{print $3}')
if [ -z "$VERSION" ]; then
  echo "postgres: no cluster found" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk 'NR==1{print $4}' | grep -q online; then
  pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi
for _ in $(seq 1 60); do
  su postgres -c "psql -p $PORT -tAc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.5
done
su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -q" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $ROLE OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ROLE')\gexec
SQL
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$ROLE"
