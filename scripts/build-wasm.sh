#!/usr/bin/env bash
# Builds the OT core's browser module: ot-wasm -> wasm32 -> wasm-bindgen
# (ES module glue for the web) -> wasm-opt, into ot-wasm/pkg.
#
#   scripts/build-wasm.sh            the shipped module, into ot-wasm/pkg
#   scripts/build-wasm.sh --bench    with the `bench` feature (exports
#                                    replaySplices), into target/wasm-bench/pkg
#
# Fails if the module is over its size budget (60 KB gzipped).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/wasm-tools.sh"

features=()
out="$ROOT/ot-wasm/pkg"
case "${1:-}" in
    "") ;;
    --bench)
        features=(--features bench)
        out="$ROOT/target/wasm-bench/pkg"
        ;;
    *)
        echo "usage: $0 [--bench]" >&2
        exit 2
        ;;
esac

BUDGET_BYTES=$((60 * 1024))

ensure_wasm_target
ensure_wasm_bindgen_cli
ensure_web_deps

cd "$ROOT"
cargo build -p tandem-ot-wasm --target wasm32-unknown-unknown --release "${features[@]}"

rm -rf "$out"
wasm-bindgen --target web --out-dir "$out" \
    target/wasm32-unknown-unknown/release/tandem_ot_wasm.wasm

# binaryen from npm, not Debian's package, whose wasm-opt is too old for
# the features rustc now enables by default and emits broken modules.
# -O3 rather than -Oz: on this module both give the same gzipped size
# (rustc has already optimised it), and the replay benchmark
# (web/scripts/bench-wasm.mjs) could not tell their speed apart, so the
# speed-oriented level it is.
wasm="$out/tandem_ot_wasm_bg.wasm"
"$ROOT/web/node_modules/.bin/wasm-opt" -O3 "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"

wasm_gz="$(gzip_size "$wasm")"
js_gz="$(gzip_size "$out/tandem_ot_wasm.js")"
echo "ot-wasm: $(stat -c %s "$wasm") bytes wasm, $wasm_gz gzipped; JS glue $js_gz gzipped ($out)"
if ((wasm_gz > BUDGET_BYTES)); then
    echo "ot-wasm: over budget: $wasm_gz > $BUDGET_BYTES bytes gzipped" >&2
    exit 1
fi
