#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and fails if
# any of them finds a crash. See docs/fuzzing.md.
#
#   scripts/fuzz.sh                    # 30 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh   # longer
#   scripts/fuzz.sh document           # only some targets
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 30)
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1)
#   FUZZ_ARGS      extra libFuzzer flags, e.g. "-max_len=8192"
#
# cargo fuzz needs nightly compiler features; on the stable toolchain it
# runs with RUSTC_BOOTSTRAP=1. cargo-fuzz itself is installed into the
# repository's .tools/ on first use. The corpus lives in
# target/fuzz/corpus/<target> (grown by every run, not committed; the
# hand-written seeds in fuzz/seeds/<target> are read too) and crash
# artifacts go to target/fuzz/artifacts/<target>/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-1}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(protocol_decode operation document)
fi

export RUSTC_BOOTSTRAP=1
export PATH="$root/.tools/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz into .tools/" >&2
  cargo install cargo-fuzz --root "$root/.tools"
fi

cd "$root/fuzz"
# Release code with debug assertions (integer overflow panics) and
# AddressSanitizer, the cargo fuzz default sanitizer.
cargo fuzz build -O -a

failed=()
for t in "${targets[@]}"; do
  corpus="$root/target/fuzz/corpus/$t"
  artifacts="$root/target/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  if [ -d "$root/fuzz/seeds/$t" ]; then
    dirs+=("$root/fuzz/seeds/$t")
  fi
  log="$artifacts/last-run.log"
  echo "fuzz.sh: $t for ${seconds}s (corpus $corpus)" >&2
  parallel=()
  if [ "$jobs" -gt 1 ]; then
    # Several processes share the corpus; libFuzzer writes their logs
    # (fuzz-N.log) to the working directory, which is the artifacts one.
    parallel=(-jobs="$jobs" -workers="$jobs")
  fi
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if (cd "$artifacts" && cargo fuzz run --fuzz-dir "$root/fuzz" -O -a "$t" "${dirs[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${parallel[@]}" \
      -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-}) \
      >"$log" 2>&1; then
    stats="$(grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | tr '\n' ' ')"
    echo "fuzz.sh: $t ok ($stats)" >&2
  else
    failed+=("$t")
    echo "fuzz.sh: $t FAILED; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    ls -1 "$artifacts" | grep -v last-run.log | sed "s|^|  artifact: $artifacts/|" >&2 || true
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (see docs/fuzzing.md to turn them into regression tests)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each: no crash" >&2
