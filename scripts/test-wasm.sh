#!/usr/bin/env bash
# Tests ot-wasm three ways: natively (the pure-Rust conversion and replica
# logic), then the wasm-bindgen tests in ot-wasm/tests under Node and in
# headless Chromium.
#
# How wasm-bindgen-test-runner picks the engine: a test binary without
# `wasm_bindgen_test_configure!` (ours has none, so one binary serves
# both) runs under Node unless WASM_BINDGEN_USE_BROWSER is set, in which
# case it drives a browser over WebDriver (CHROMEDRIVER names the driver,
# WASM_BINDGEN_TEST_WEBDRIVER_JSON its capabilities: Chromium's path and
# the flags it needs here as root). The test `runs_in_the_requested_engine`
# fails if the engine is not the one asked for, so neither run can quietly
# be the other.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/wasm-tools.sh"

ensure_wasm_target
ensure_wasm_bindgen_cli
ensure_chromium

cd "$ROOT"

echo "== ot-wasm: native tests"
cargo test -p tandem-ot-wasm

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# Per-test limit inside the runner (its default is 20 s).
export WASM_BINDGEN_TEST_TIMEOUT=120
# Only the integration tests: the unit tests in src/ are plain #[test]s,
# which run natively above.
wasm_test=(cargo test -p tandem-ot-wasm --target wasm32-unknown-unknown --test wasm)

# Any engine variable left in the caller's environment would either pick
# the engine or make the runner refuse ("only one test mode must be set").
for var in $(compgen -e | grep '^WASM_BINDGEN_USE_' || true); do
    unset "$var"
done

echo "== ot-wasm: wasm tests under Node"
"${wasm_test[@]}" --no-run
timeout --kill-after=10 600 "${wasm_test[@]}"

echo "== ot-wasm: wasm tests in headless Chromium"
export WASM_BINDGEN_USE_BROWSER=1
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/ot-wasm/webdriver.json"
# The test crate reads WASM_BINDGEN_USE_BROWSER at compile time, so this
# build differs from the Node one.
"${wasm_test[@]}" --no-run
timeout --kill-after=10 600 "${wasm_test[@]}"
