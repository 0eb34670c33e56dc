#!/usr/bin/env bash
# Installs what the documentation checks need, each only when missing, so running it again costs
# nothing: Node.js and npm and chromium from Debian (apt-get, as root), then the npm packages
# pinned in .ci/docs/package.json and package-lock.json (@redocly/cli for lint.sh,
# playwright-core for browser.sh) from the npm registry into .ci/docs/node_modules.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci only when node_modules does not hold exactly what the lock file pins (npm records what
# it installed in node_modules/.package-lock.json).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ ! -x node_modules/.bin/redocly ] || [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
