#!/usr/bin/env bash
# Builds the browser editor into web/dist: first the OT core's WASM module
# (scripts/build-wasm.sh, into ot-wasm/pkg, which the web build imports),
# then web/ (npm packages from the lock file, type check, Vite build).
# Prints what a first visit downloads, gzipped, and fails if that is over
# its budget (250 KiB of JS + WASM + CSS + HTML; lazy chunks not counted).
#
# Serve it with the server: WEB_DIR=web/dist target/debug/tandem
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/wasm-tools.sh"

"$ROOT/scripts/build-wasm.sh"

# npm ci from web/package-lock.json (skipped when node_modules is already
# installed from this very lock file).
ensure_web_deps

cd "$ROOT/web"
npm run build
node scripts/bundle-size.mjs --budget-kib 250
