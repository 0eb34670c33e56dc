#!/usr/bin/env bash
# Renders /docs in headless Debian chromium (driven by playwright-core) against a freshly built
# server and fails unless the endpoint list and an example request body appear with no console
# error and no request leaving the machine. .ci/docs/install.sh installs chromium and the pinned
# npm packages when missing. Prints the screenshot path (ENRICHER_DOCS_SCREENSHOT, default /tmp/enricher-docs.png).
set -euo pipefail
cd "$(dirname "$0")/../.."
shot=${ENRICHER_DOCS_SCREENSHOT:-/tmp/enricher-docs.png}

bash .ci/docs/install.sh

work=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
go build -o "$work/enricher" ./cmd/enricher
key=ent_DocsBrowserKey0123456789abcdefghijklmn
port=$((20000 + RANDOM % 20000))
base=http://127.0.0.1:$port
ENRICHER_BOOTSTRAP_KEY=$key "$work/enricher" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn &
pid=$!
for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
curl -sf "$base/health" >/dev/null

node .ci/docs/browser.mjs "$base" "$key" "$shot"
