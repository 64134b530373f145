#!/usr/bin/env bash
# Benchmark: `vouch history` over a year of daily runs in a local store (365 runs × 500 results,
# observations shared as a run shares them: 10 targets, facts differing only where failing;
# signed bundles), every bundle verified and read one at a time.
# Prints wall time and peak RSS (/usr/bin/time -v). Targets: under 2 s and under 100 MB.
#   scripts/bench-history.sh                  # dev profile
#   PROFILE=release scripts/bench-history.sh
#   RUNS=100 RESULTS=200 scripts/bench-history.sh
# Measured 2026-11-30 (release, 2 shared cores): 365 runs x 500 results, 8,760 files, 90 MB:
# history json 0.27 s / 14.7 MB peak RSS; html 0.26 s / 14.4 MB; verify --store 0.21 s.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-365}"
results="${RESULTS:-500}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
flag=()
dir=debug
if [ "${PROFILE:-dev}" = release ]; then flag=(--release); dir=release; fi
cargo build --quiet "${flag[@]}" --bin vouch --example bench_history
echo "building the store: $runs runs × $results results in $tmp/store"
start=$(date +%s)
signer="$("target/$dir/examples/bench_history" "$tmp/store" "$runs" "$results")"
echo "  built in $(( $(date +%s) - start )) s; $(du -sh "$tmp/store" | cut -f1), $(find "$tmp/store" -type f | wc -l) files"
for fmt in json html; do
  /usr/bin/time -v "target/$dir/vouch" history --store "$tmp/store" --from 2026-01-01 \
    --to 2026-12-31 --signer "$signer" --format "$fmt" >"$tmp/out.$fmt" 2>"$tmp/time.$fmt" || true
  wall="$(grep 'Elapsed (wall clock)' "$tmp/time.$fmt" | awk '{print $NF}')"
  rss="$(grep 'Maximum resident set size' "$tmp/time.$fmt" | awk '{print $NF}')"
  echo "history --format $fmt: wall $wall, peak RSS $(( rss / 1024 )) MB, $(wc -c <"$tmp/out.$fmt") bytes out"
done
grep -c '"control"' "$tmp/out.json" | sed 's/^/rows: /'
