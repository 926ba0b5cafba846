#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and fails if
# any of them finds a crash. `make test` runs it with FUZZ_SECONDS=20 (see
# the Makefile); docs/fuzzing.md has the details and long runs.
#
#   scripts/fuzz.sh                    # 30 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh   # longer
#   scripts/fuzz.sh document           # only some targets
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 30)
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1)
#   FUZZ_ARGS      extra libFuzzer flags, e.g. "-max_len=8192"
#   FUZZ_SANITIZER address (default) or none (builds in about 20% less
#                  time and runs faster, but misses memory errors in the
#                  unsafe code of dependencies such as the rope)
#
# cargo fuzz needs nightly compiler features; on the stable toolchain it
# runs with RUSTC_BOOTSTRAP=1. cargo-fuzz itself (version pinned below) is
# installed into the repository's .tools/ on first use. Everything else
# stays under target/fuzz/ (not committed):
#   target/fuzz/build/             the fuzz build (its own target directory,
#                                  so the workspace's build cache is untouched)
#   target/fuzz/corpus/<target>/   the corpus, grown by every run (the
#                                  hand-written seeds in fuzz/seeds/<target>
#                                  are read too)
#   target/fuzz/artifacts/<target>/  crash inputs and last-run.log
#   target/fuzz/build.log          the last build's output
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-1}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(protocol_decode operation document)
fi

cargo_fuzz_version=0.13.2
tools="$root/.tools"
cargo_fuzz="$tools/bin/cargo-fuzz"
out="$root/target/fuzz"
# Release code with debug assertions (integer overflow panics) and
# AddressSanitizer (the cargo fuzz default), built into its own target
# directory (another one per other sanitizer). fuzz/Cargo.toml keeps the
# dependencies the targets never call at opt-level 0, which halves the
# build.
sanitizer="${FUZZ_SANITIZER:-address}"
build_dir="$out/build"
if [ "$sanitizer" != address ]; then
  build_dir="$out/build-$sanitizer"
fi
build_flags=(-O -a -s "$sanitizer" --target-dir "$build_dir")

export RUSTC_BOOTSTRAP=1
mkdir -p "$out"

now() { date +%s; }
t0=$(now)

if [ "$("$cargo_fuzz" --version 2>/dev/null || true)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "fuzz.sh: installing cargo-fuzz $cargo_fuzz_version into .tools/" >&2
  # A debug build: cargo-fuzz only drives cargo and libFuzzer, and this
  # compiles in half the time of a release one. --locked first, for the
  # versions cargo-fuzz was released with; without it if the registry
  # lacks one of them.
  install=(cargo install "cargo-fuzz@$cargo_fuzz_version" --debug --force --root "$tools")
  if ! "${install[@]}" --locked >"$out/install.log" 2>&1; then
    echo "fuzz.sh: --locked install failed, retrying without it" >&2
    if ! "${install[@]}" >>"$out/install.log" 2>&1; then
      tail -n 40 "$out/install.log" >&2
      echo "fuzz.sh: installing cargo-fuzz failed (log: $out/install.log)" >&2
      exit 1
    fi
  fi
  echo "fuzz.sh: cargo-fuzz installed in $(($(now) - t0)) s" >&2
fi

cd "$root/fuzz"
t1=$(now)
echo "fuzz.sh: building the fuzz targets (log: $out/build.log)" >&2
if ! "$cargo_fuzz" build "${build_flags[@]}" >"$out/build.log" 2>&1; then
  tail -n 60 "$out/build.log" >&2
  echo "fuzz.sh: building the fuzz targets failed (log: $out/build.log)" >&2
  exit 1
fi
echo "fuzz.sh: built in $(($(now) - t1)) s" >&2
bin="$build_dir/$(rustc -vV | sed -n 's/^host: //p')/release"

failed=()
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  artifacts="$out/artifacts/$t"
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
  t2=$(now)
  # The binary cargo fuzz built, run the way `cargo fuzz run` runs it,
  # but without the rebuild check `cargo fuzz run` starts with.
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if (cd "$artifacts" && ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
      "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${parallel[@]}" \
      -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-} "${dirs[@]}") \
      >"$log" 2>&1; then
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)"
    echo "fuzz.sh: $t ok in $(($(now) - t2)) s: ${execs:-?} executions, peak RSS ${rss:-?} MB, $cov" >&2
  else
    failed+=("$t")
    echo "fuzz.sh: $t FAILED; last lines of $log:" >&2
    tail -n 60 "$log" >&2
    ls -1 "$artifacts" | grep -v -e last-run.log -e '^fuzz-[0-9]*\.log$' \
      | sed "s|^|  artifact: $artifacts/|" >&2 || true
  fi
done

total=$(($(now) - t0))
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (see docs/fuzzing.md to turn them into regression tests)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each: no crash (${total} s in all)" >&2
