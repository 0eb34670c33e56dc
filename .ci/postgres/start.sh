#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback and prints its URL on stdout, for the tests
# that need one (ENRICHER_TEST_DATABASE_URL) and for running `enricher serve` on PostgreSQL.
#
#   url=$(.ci/postgres/start.sh /tmp/pg)   # DIR: a missing or empty directory; it holds everything
#   ENRICHER_TEST_DATABASE_URL=$url go test ./storage/postgres/
#   .ci/postgres/stop.sh /tmp/pg           # stops the cluster and removes DIR
#
# The cluster listens on 127.0.0.1 only, on a free port, with its unix socket inside DIR, trust
# authentication and fsync off (test data only). Run as root (CI), it runs the server as the
# `postgres` user, which PostgreSQL requires. Needs Debian's `postgresql` package.
set -euo pipefail
dir=${1:?usage: start.sh DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "start.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
