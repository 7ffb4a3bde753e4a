#!/usr/bin/env bash
# The whole test suite: installs the servers the end-to-end tests start (when
# run as root; otherwise says what to install), type-checks, then runs every
# unit and end-to-end test with Node's test runner. A server that is missing
# or cannot start fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then
  echo "ponte needs Node.js 22 or newer (found $(node --version)); run it through npm (npm test), which uses the node@22 package from node_modules." >&2
  exit 1
fi

bash scripts/ensure-servers.sh
echo "== type check"
tsc -p tsconfig.json --noEmit
echo "== tests ($(node --version))"
exec node --import tsx --test --test-reporter=spec --test-concurrency=2 --test-timeout=900000 \
  'src/**/*.test.ts' 'test/**/*.test.ts' "$@"
