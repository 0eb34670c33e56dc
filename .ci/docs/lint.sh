#!/usr/bin/env bash
# Lints the OpenAPI document with Redocly's recommended rules. Fails on any error; warnings are
# reported but allowed. Uses the @redocly/cli pinned in .ci/docs/package-lock.json, installed by
# .ci/docs/install.sh when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash .ci/docs/install.sh
.ci/docs/node_modules/.bin/redocly lint --format=stylish transport/api/openapi.json
