#!/usr/bin/env bash
# Stops the cluster .ci/postgres/start.sh DIR started and removes DIR.
set -uo pipefail
dir=${1:?usage: stop.sh DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
as=()
[ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
if [ -f "$dir/data/postmaster.pid" ]; then
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
fi
rm -rf "$dir"
