#!/usr/bin/env bash
# Runs README.md's quick start as written: every fenced block between <!-- quickstart:begin -->
# and <!-- quickstart:end --> in README.md, in order, as one bash script, against a fresh server.
#
# It runs in a temporary copy of the repository's tracked files (so ./enricher, ./data,
# companies.csv and results.ndjson land there, never in the work tree), with two substitutions,
# both needed only to run beside other servers:
#   - http://localhost:8080 becomes http://127.0.0.1:<free port>, and
#   - ENRICHER_LISTEN=127.0.0.1:<that port> is exported, so the README's `./enricher serve` listens
#     there (the data directory is the copy's own fresh ./data); ENRICHER_LOG_LEVEL=warn only
#     keeps the server's log short.
# Every curl of the README fails on an HTTP error status (--fail-with-body through a wrapper that
# also logs each call's status), and the script runs with `set -euo pipefail`, so a failing step,
# including one inside `$(curl ... | jq ...)`, stops the run with a non-zero status. The whole run
# is bounded by a timeout (ENRICHER_QUICKSTART_TIMEOUT, default 300 s). Needs go, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

script=$work/quickstart.sh
port=$((20000 + RANDOM % 20000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

# The marked blocks: the lines inside ``` fences between the begin and end markers.
blocks=$(awk '
  /<!-- quickstart:begin -->/ { inside = 1; next }
  /<!-- quickstart:end -->/   { inside = 0; next }
  inside && /^```/            { fence = !fence; if (!fence) print ""; next }
  inside && fence             { print }
' README.md)
if [ -z "$blocks" ]; then
  echo "README.md has no quickstart blocks" >&2
  exit 1
fi
nblocks=$(grep -c '<!-- quickstart:begin -->' README.md)

{
  cat <<'PRE'
set -euo pipefail
# Every curl fails on an HTTP error status (--fail-with-body, unless the README already asks for
# -f) and logs its URL and status on stderr.
curl() {
  local code out fail=--fail-with-body a
  for a in "$@"; do [[ $a =~ ^-[a-zA-Z]*f[a-zA-Z]*$ ]] && fail=; done
  out=$(mktemp)
  code=$(command curl $fail --max-time 120 -o "$out" -w '%{http_code}' "$@") || {
    local rc=$?
    cat "$out" >&2; echo >&2; rm -f "$out"
    echo "quickstart: curl $* -> HTTP ${code:-none} (exit $rc)" >&2
    return $rc
  }
  echo "quickstart: HTTP $code $(printf '%s ' "$@" | grep -oE 'https?://[^ ]+' | head -1)" >&2
  cat "$out"; rm -f "$out"
}
trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT
PRE
  printf '%s\n' "$blocks" | sed "s|http://localhost:8080|http://127.0.0.1:$port|g"
} >"$script"

echo "quickstart: $nblocks blocks from README.md, server on 127.0.0.1:$port"
git ls-files -z | xargs -0 cp --parents -t "$work"
cd "$work"
ENRICHER_LISTEN=127.0.0.1:$port ENRICHER_LOG_LEVEL=warn \
  timeout "${ENRICHER_QUICKSTART_TIMEOUT:-300}" bash "$script" >"$work/out.txt" || {
  rc=$?
  cat "$work/out.txt"
  echo "quickstart: FAILED (exit $rc); the script was:" >&2
  cat -n "$script" >&2
  exit "$rc"
}
cat "$work/out.txt"
echo "quickstart: OK"
