#!/usr/bin/env bash
# Benchmark: load a Chromium-sized preload list (~15 MB, 160k entries, comment lines, pinsets)
# once and look names up in it. Prints the timings; the goal is "fast enough to load once per run"
# (well under a second in a release build).
#   scripts/bench-preload.sh            # dev profile (the prebuilt one)
#   PROFILE=release scripts/bench-preload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/list.json" <<'PY'
import sys
n = 160_000
with open(sys.argv[1], "w") as f:
    f.write("// Copyright 2024 The Chromium Authors\n// Synthetic list for vouch's benchmark.\n{\n")
    f.write('  "pinsets": [ { "name": "test", "static_spki_hashes": ["TestSPKI"] } ],\n')
    f.write('  "entries": [\n')
    for i in range(n):
        if i % 1000 == 0:
            f.write(f"    // Bulk entries, batch {i // 1000}.\n")
        isd = "true" if i % 2 == 0 else "false"
        f.write(f'    {{ "name": "site{i}.example", "policy": "bulk-1-year", "mode": "force-https", "include_subdomains": {isd} }},\n')
    f.write('    { "name": "pinned.example", "policy": "custom", "pins": "test" }\n  ]\n}\n')
PY
flag=()
[ "${PROFILE:-dev}" = release ] && flag=(--release)
cargo run --quiet "${flag[@]}" --example bench_preload -- "$tmp/list.json" 100000
