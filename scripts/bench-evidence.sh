#!/usr/bin/env bash
# Evidence bundle throughput: N attestation observations (no network), then time writing the
# bundle, verifying it, and replaying it. Usage: scripts/bench-evidence.sh [N] (default 5000).
# Builds the release binary (the only place --release is used), unless VOUCH_BIN names a binary.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5000}"
if [ -n "${VOUCH_BIN:-}" ]; then
  vouch="$(realpath "$VOUCH_BIN")"
else
  cargo build --release --quiet
  vouch="$PWD/target/release/vouch"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/evidence"
today="$(date -u +%F)"
{
  for i in $(seq 1 "$n"); do
    echo "evidence $i" > "$work/evidence/e$i.txt"
    printf '[[attestation]]\nid = "a%d"\nstatement = "s"\nperformed_on = %s\nevidence = "evidence/e%d.txt"\nattested_by = "x"\n\n' "$i" "$today" "$i"
  done
} > "$work/attestations.toml"
targets="$(seq -f '"a%g"' -s, 1 "$n")"
cat > "$work/controls.toml" <<TOML
[[control]]
id = "BENCH"
title = "bench"
severity = "low"
probe = "attestation"
targets = [$targets]
max_age = "30d"
expect = [ { fact = "age_days", op = "<=", value = 365 } ]
TOML
cd "$work"
"$vouch" keygen --out k >/dev/null
t() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
run_only=$(t "$vouch" check -q --controls controls.toml --attestations attestations.toml --format json)
with_bundle=$(t "$vouch" check -q --controls controls.toml --attestations attestations.toml --format json --evidence-dir ev --sign-key k.key)
verify=$(t "$vouch" verify ev --public-key k.pub)
replay=$(t "$vouch" check -q --controls controls.toml --from-evidence ev --public-key k.pub --format json)
files=$(find ev -type f | wc -l); bytes=$(du -sb ev | cut -f1)
echo "observations=$n files=$files bytes=$bytes"
echo "check (no bundle): ${run_only} ms"
echo "check + signed bundle: ${with_bundle} ms (bundle cost ~$((with_bundle - run_only)) ms)"
echo "verify --public-key: ${verify} ms"
echo "replay (--from-evidence): ${replay} ms"
