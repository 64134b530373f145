#!/usr/bin/env bash
# How long each report format takes to render a large report: the fixed sample report
# (fixtures/report/sample.json) replicated to N controls (default 2000, i.e. 3200 results and
# 1200 observations), rendered by examples/render.rs. Prints one line per format.
#   scripts/bench-formats.sh [N] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
PROFILE=()
[ "${2:-}" = "--release" ] && PROFILE=(--release)
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
python3 - "$N" > "$OUT/big.json" <<'PY'
import json, sys, copy, hashlib
n = int(sys.argv[1])
r = json.load(open("fixtures/report/sample.json"))
base = r["controls"]
controls, observations = [], {}
for i in range(n // len(base)):
    for c in base:
        c = copy.deepcopy(c)
        c["id"] = f"{c['id']}-{i:04d}"
        for res in c["results"]:
            k = res.get("observation")
            if k:
                # A distinct observation per copy, so the report is as large as a real one.
                o = copy.deepcopy(r["observations"][k])
                o["target"] = f"{o['target']}#{i}"
                nk = "sha256:" + hashlib.sha256(f"{k}{i}".encode()).hexdigest()
                observations[nk] = o
                res["observation"] = nk
        controls.append(c)
r["controls"] = controls
r["observations"] = observations
s = r["summary"]
for key in ["controls", "pass", "fail", "error", "waived", "n/a"]:
    s[key] = s[key] * (n // len(base)) if key != "controls" else len(controls)
for key in s["results"]:
    s["results"][key] *= n // len(base)
json.dump(r, sys.stdout)
PY
echo "report.json: $(stat -c %s "$OUT/big.json") bytes" >&2
cargo run -q "${PROFILE[@]}" --example render -- "$OUT/big.json" all
