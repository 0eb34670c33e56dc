#!/usr/bin/env bash
# Fills the data directory's filesystem under a running batch (needs root: it mounts a tmpfs).
# Checks: the server stays up, writes get 507, /health says low_space, a second server refuses
# to start on the full filesystem with one clear line; once the tmpfs is grown the batch goes
# on by itself and completes with its counters adding up and every record present.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
mnt="$work/mnt"
pid=
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  umount "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "diskfull: $*" >&2; exit 1; }

go build -o "$work/enricher" ./cmd/enricher
mkdir -p "$mnt"
mount -t tmpfs -o size=600M tmpfs "$mnt"
export KEY=ent_DiskFullCheckKey0123456789abcdefghijklm
port=$((20000 + RANDOM % 20000))
BASE=http://127.0.0.1:$port
ENRICHER_BOOTSTRAP_KEY=$KEY ENRICHER_MIN_FREE_DISK_MB=400 "$work/enricher" serve --listen 127.0.0.1:$port \
  --data-dir "$mnt/data" --log-level warn 2> "$work/server.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
api() { curl -s -H "X-API-Key: $KEY" -H "Content-Type: application/json" "$@"; }

schema='{"name": "Company", "schema_content": {"root": {"name": "Company", "type": "object", "properties": {
  "name": {"type": "string", "is_key": true}, "country": {"type": "string", "is_key": true},
  "founded_year": {"type": "integer"}}}}}'
SCHEMA_ID=$(api -X POST "$BASE/api/schema/saved" -d "$schema" | jq -r .id)
n=400
entities=$(jq -cn --argjson n $n '[range($n) | {name: "Company \(.)", country: "US", _sim: {latency_ms: 100}}]')
JOB_ID=$(api -X POST "$BASE/api/enrichment/batch/start" \
  -d '{"entities": '"$entities"', "schema_id": "'"$SCHEMA_ID"'", "models": ["sim::fast"]}' | jq -r .job_id)
[ -n "$JOB_ID" ] && [ "$JOB_ID" != null ] || fail "batch not started"

avail=$(df --output=avail -BM "$mnt" | tail -1 | tr -dc 0-9)
fallocate -l "$((avail - 300))M" "$mnt/filler"   # leaves about 300 MB, under the 400 MB threshold
for _ in $(seq 1 50); do
  [ "$(curl -s "$BASE/health" | jq -r .storage)" = low_space ] && break; sleep 0.1
done
health=$(curl -s -w '\n%{http_code}' "$BASE/health")
[ "$(echo "$health" | tail -1)" = 200 ] || fail "/health is not 200 while space is low: $health"
echo "$health" | head -1 | jq -e '.status == "ok" and .storage == "low_space"' >/dev/null || fail "/health: $health"
code=$(api -o "$work/507.json" -w '%{http_code}' -X POST "$BASE/api/schema/saved" -d "${schema/Company\"/Other\"}")
[ "$code" = 507 ] || fail "a write while space is low answered $code"
jq -e '.detail | test("low on disk space")' "$work/507.json" >/dev/null || fail "507 without a clear detail"
metrics=$(api "$BASE/metrics")
grep -q '^enricher_storage_low_space 1' <<< "$metrics" || fail "metrics do not show low space"
grep -q '^enricher_storage_free_bytes ' <<< "$metrics" || fail "metrics do not show free bytes"
status=$(api "$BASE/api/llm/jobs/$JOB_ID" | jq -r .status)
[ "$status" = running ] || fail "the batch is $status while space is low (it should wait)"

# Start-up on the full filesystem: one clear line and a non-zero exit, no SIGBUS.
set +e
ENRICHER_MIN_FREE_DISK_MB=400 "$work/enricher" serve --listen 127.0.0.1:0 --data-dir "$mnt/data2" 2> "$work/start.log"
rc=$?
set -e
[ $rc -ne 0 ] || fail "a server started on a full filesystem"
grep -q "data dir $mnt/data2: only [0-9]* MB free, min_free_disk_mb is 400" "$work/start.log" || fail "start-up refusal: $(cat "$work/start.log")"

sleep 2
kill -0 "$pid" 2>/dev/null || fail "the server died while space was low: $(tail -5 "$work/server.log")"
mount -o remount,size=1200M "$mnt"
for _ in $(seq 1 50); do
  [ "$(curl -s "$BASE/health" | jq -r .storage)" = ok ] && break; sleep 0.1
done
[ "$(curl -s "$BASE/health" | jq -r .storage)" = ok ] || fail "storage did not come back"

for _ in $(seq 1 600); do
  status=$(api "$BASE/api/llm/jobs/$JOB_ID" | jq -r .status)
  [ "$status" = running ] || break; sleep 0.1
done
job=$(api "$BASE/api/llm/jobs/$JOB_ID")
echo "$job" | jq -e --argjson n $n '.status == "completed" and .total_entities == $n and
  .completed_entities + .failed_entities + .skipped_entities == $n and .failed_entities == 0' >/dev/null \
  || fail "batch after the disk was grown: $(echo "$job" | jq -c '{status, total_entities, completed_entities, failed_entities, skipped_entities}')"
records=$(api "$BASE/api/records?job_id=$JOB_ID&page_size=1" | jq .total)
[ "$records" = $n ] || fail "$records records for $n entities"
kill -0 "$pid" || fail "server gone"
echo "disk full under a running batch: server up, 507, low_space, start-up refused, batch completed with $records records"
