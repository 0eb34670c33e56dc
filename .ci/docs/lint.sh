#!/usr/bin/env bash
# Lints the OpenAPI document with Redocly's recommended rules. Fails on any error; warnings are
# reported but allowed. Needs node/npx; fetches the pinned @redocly/cli from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx --yes @redocly/cli@2.77.0 lint --format=stylish transport/api/openapi.json
