#!/usr/bin/env bash
# PostgreSQL 15 for the test suite's second run (`.ci/run`), from Debian's packages.
#
# Installs postgresql-15 when it is absent (root only), then creates and starts a cluster of the project's
# own ("archive", port 54315: never the machine's "main" cluster) that listens on 127.0.0.1 only, with a role
# that may create databases (pytest-django creates test_<name>; the server harness in tests/server.py creates
# one per server) and a database of its own. Prints the DATABASE_URL to use, and nothing else, on stdout:
#
#     export DATABASE_URL=$(bash .ci/postgres.sh)
#
# Safe to run again: what exists is kept, started if it is down, and the role's password reset.
# The cluster is a throwaway for tests: fsync and synchronous_commit are off (a crash of the machine may
# lose it; a crash of the web server, which is what tests/test_crash.py does, loses nothing).
set -euo pipefail
VERSION=15
CLUSTER=${ARCHIVE_PG_CLUSTER:-archive}
PORT=${ARCHIVE_PG_PORT:-54315}
ROLE=archive
PASSWORD=${ARCHIVE_PG_PASSWORD:-archive-tests}
DATABASE=archive
URL="postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

say() { echo "postgres.sh: $*" >&2; }  # stdout carries the URL alone
as_postgres() { runuser -u postgres -- "$@"; }

if [ "$(id -u)" -ne 0 ]; then
  # Not root: nothing can be installed or created here; the cluster may still be up from an earlier run.
  if PGPASSWORD=$PASSWORD psql "$URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    echo "$URL"
    exit 0
  fi
  say "PostgreSQL $VERSION on 127.0.0.1:$PORT is not set up; run this script as root once."
  exit 1
fi

if [ ! -x /usr/lib/postgresql/$VERSION/bin/postgres ]; then
  say "installing postgresql-$VERSION"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "postgresql-$VERSION" >&2
fi

if ! pg_lsclusters -h | awk '{print $1 "/" $2}' | grep -qx "$VERSION/$CLUSTER"; then
  say "creating cluster $VERSION/$CLUSTER on 127.0.0.1:$PORT"
  pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" --start-conf manual \
    --locale C.UTF-8 --encoding UTF8 \
    -o ssl=off -o fsync=off -o synchronous_commit=off \
    -o full_page_writes=off -o max_connections=200 \
    -- --auth-host=scram-sha-256 --auth-local=peer >&2
  # Loopback only. (Given to -o, or to pg_conftool, 127.0.0.1 would be written unquoted: a syntax error.)
  echo "listen_addresses = '127.0.0.1'" >>"/etc/postgresql/$VERSION/$CLUSTER/postgresql.conf"
fi

if ! pg_lsclusters -h | awk -v c="$CLUSTER" -v v="$VERSION" '$1 == v && $2 == c {print $4}' | grep -qx online; then
  say "starting cluster $VERSION/$CLUSTER"
  pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || { say "the cluster did not come up"; exit 1; }

as_postgres psql -p "$PORT" -qAt -v ON_ERROR_STOP=1 >&2 <<SQL
SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')
  THEN 'ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD ''$PASSWORD'''
  ELSE 'CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD ''$PASSWORD''' END \gexec
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
SQL

echo "$URL"
