# shellcheck shell=bash
# Tool setup shared by scripts/build-wasm.sh and scripts/test-wasm.sh.
# Source it (it defines functions and ROOT; it runs nothing by itself).
#
# Everything is installed by these functions, not by hand, because a fresh
# machine (CI's included) starts with none of it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# The wasm-bindgen version Cargo.lock resolved. The CLI must match it
# exactly: it refuses modules built by another version of the crate.
wasm_bindgen_version() {
    awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/[^0-9.]/, ""); print; exit }' \
        "$ROOT/Cargo.lock"
}

ensure_wasm_target() {
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        rustup target add wasm32-unknown-unknown
    fi
}

# Puts wasm-bindgen and wasm-bindgen-test-runner of the locked version on
# PATH, building them into $ROOT/.tools when missing or mismatched. No
# --locked: the CLI's own lock file may name crates the registry index
# here resolves differently, and the CLI version itself is what matters.
ensure_wasm_bindgen_cli() {
    local want have_cli have_runner
    want="$(wasm_bindgen_version)"
    if [[ -z "$want" ]]; then
        echo "wasm-bindgen is not in $ROOT/Cargo.lock" >&2
        return 1
    fi
    export PATH="$ROOT/.tools/bin:$PATH"
    have_cli="$(wasm-bindgen --version 2>/dev/null || true)"
    have_runner="$(wasm-bindgen-test-runner --version 2>/dev/null || true)"
    if [[ "$have_cli" != "wasm-bindgen $want" || "$have_runner" != *" $want"* ]]; then
        echo "installing wasm-bindgen-cli $want into $ROOT/.tools (found: ${have_cli:-none})"
        cargo install wasm-bindgen-cli --version "$want" --root "$ROOT/.tools" --force
    fi
}

# web/node_modules from web/package-lock.json (binaryen's wasm-opt,
# playwright-core). Reinstalls only when the lock file is newer than the
# last install.
ensure_web_deps() {
    local web="$ROOT/web"
    if [[ -f "$web/node_modules/.package-lock.json" &&
        ! "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]]; then
        return 0
    fi
    if [[ -f "$web/package-lock.json" ]]; then
        (cd "$web" && npm ci --no-audit --no-fund)
    else
        (cd "$web" && npm install --no-audit --no-fund)
    fi
}

# Debian's chromium and its WebDriver, for the browser test run and the
# benchmark.
ensure_chromium() {
    if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
    fi
}

# Prints the gzip -9 size of a file in bytes.
gzip_size() {
    gzip -9 -c "$1" | wc -c
}
