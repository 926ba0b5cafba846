#!/usr/bin/env bash
# Smoke test of the load generator (tandem-bench) against the release
# server: a few seconds of saturating load on 2 documents x 4 clients, and
# a 2-second replay of a small editing trace with 2 watchers. It fails only
# if a run errors (a join refused, a disconnect, a protocol error) or the
# clients do not converge on the server's text — never on timing: the
# figures are printed for the curious, and the real measurements live in
# docs/benchmarks.md.
#
# Usage: scripts/bench-smoke.sh   (from anywhere; builds what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p tandem-server -p tandem-bench
bench=target/release/tandem-bench
server=target/release/tandem

echo "== bench smoke: load, 2 documents x 4 clients, saturating, 3 s"
timeout 60 "$bench" --spawn "$server" --docs 2 --clients 4 --rate 0 --duration 3 --wait 10

trace=../shared/traces/friendsforever_flat.json.gz
if [[ -f $trace ]]; then
  echo "== bench smoke: trace replay of friendsforever_flat, 2 s, 2 watchers"
  timeout 60 "$bench" --spawn "$server" --mode trace --trace "$trace" --watchers 2 --duration 2 --wait 10
else
  echo "== bench smoke: $trace not found; trace replay skipped"
fi
echo "bench smoke: ok"
