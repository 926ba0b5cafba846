#!/usr/bin/env bash
# Tests the browser editor: builds the WASM core, the web client and the
# server, runs the unit tests (vitest) and then the end-to-end tests
# (tests/e2e, node's test runner driving headless Debian Chromium through
# playwright-core against the real server binary). The end-to-end tests
# print the time-to-editable; the build prints the bundle size.
#
#   scripts/test-web.sh            everything
#   scripts/test-web.sh --no-build skip the builds (after a previous run)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/wasm-tools.sh"

if [[ "${1:-}" != "--no-build" ]]; then
    "$ROOT/scripts/build-web.sh"
    (cd "$ROOT" && cargo build -p tandem-server)
fi
ensure_web_deps
ensure_chromium

echo "== web: unit tests (vitest)"
(cd "$ROOT/web" && timeout --kill-after=10 300 npx vitest run)

echo "== web: end-to-end tests (headless Chromium)"
mkdir -p "$ROOT/tests/artifacts"
cd "$ROOT"
# Each file bounds its own waits; this bounds the whole run.
timeout --kill-after=10 600 node --test --test-concurrency=1 tests/e2e/*.test.mjs
