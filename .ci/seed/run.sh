#!/usr/bin/env bash
# Runs the seed's client examples against a freshly built server with sim models:
# the Python workflow (list schemas → start → stream → record). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/enricher" ./cmd/enricher
export KEY=ent_SeedExampleKey0123456789abcdefghijklm
port=$((20000 + RANDOM % 20000))
export BASE=http://127.0.0.1:$port
ENRICHER_BOOTSTRAP_KEY=$KEY "$work/enricher" serve --listen 127.0.0.1:$port --data-dir "$work/data" --log-level warn &
pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "$BASE/api/schema/saved" -H "X-API-Key: $KEY" -d '{
  "name": "Company", "schema_content": {"root": {"name": "Company", "type": "object", "properties": {
    "name": {"type": "string", "is_key": true, "expertise": "profile"},
    "country": {"type": "string", "is_key": true, "expertise": "profile"},
    "founded_year": {"type": "integer", "expertise": "profile"},
    "ceo": {"type": "string", "expertise": "people"}}},
  "expertise_domains": {"profile": {"name": "Profile", "description": "Identity"},
                        "people": {"name": "People", "description": "Leaders"}}}}' >/dev/null
out=$(/usr/bin/python3 .ci/seed/workflow.py)
echo "$out"
echo "$out" | jq -e '.name == "Moderna Inc" and .country == "US" and has("founded_year") and has("ceo")' >/dev/null

# The seed's curl batch example (models swapped for sim ones), then the records it ends with.
SCHEMA_ID=$(curl -s -H "X-API-Key: $KEY" "$BASE/api/schema/saved" | jq -r '.schemas[0].id')
JOB_ID=$(curl -s -X POST \
  -H "X-API-Key: $KEY" \
  -H "Content-Type: application/json" \
  "$BASE/api/enrichment/batch/start" \
  -d '{
    "entities": [
      {"name": "Pfizer Inc", "country": "US"},
      {"name": "Roche", "country": "CH"}
    ],
    "schema_id": "'"$SCHEMA_ID"'",
    "models": ["sim::fast", "sim::realistic"],
    "strategy": "multi_expertise",
    "arbitration_model": "sim::fast"
  }' | jq -r '.job_id')
curl -sN -H "X-API-Key: $KEY" "$BASE/api/llm/stream/$JOB_ID" > "$work/batch.sse"
grep -q '"type":"batch_completed"' "$work/batch.sse"
curl -s -H "X-API-Key: $KEY" "$BASE/api/records?type=enrichment&page_size=10" | jq '.records' > "$work/records.json"
jq -e --arg job "$JOB_ID" '[.[] | select(.job_id == $job)] | length == 4' "$work/records.json" >/dev/null
echo "seed examples (python workflow, curl batch): 2 passed, 0 failed"
