#!/usr/bin/env bash
# Benchmark of the tls probe: `vouch check` over N loopback endpoints (one tokio-rustls server
# process listening on N ports, TLS 1.2 + 1.3, a CA given as [tls] ca_file), each scanned for
# every protocol version and its certificate. Reports wall time, peak memory (/usr/bin/time -v)
# and the TCP connections each endpoint accepted (target: <= 8).
#
#   scripts/bench-tls.sh [N=100]          # release build (PROFILE=dev for the debug build)
#   CIPHERS=1 scripts/bench-tls.sh 500    # also a control on ciphers.weak: full suite enumeration
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100}"
PROFILE="${PROFILE:-release}"
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
if [ "$PROFILE" = release ]; then
  cargo build --release --bin vouch --example tls_bench_server
  BIN=target/release
else
  cargo build --bin vouch --example tls_bench_server
  BIN=target/debug
fi
DIR="$(mktemp -d)"
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkfifo "$DIR/stdin"
"$BIN/examples/tls_bench_server" "$N" "$DIR" < "$DIR/stdin" > "$DIR/server.out" &
SERVER=$!
exec 3> "$DIR/stdin"            # holding the fifo open keeps the server serving
for _ in $(seq 100); do grep -q ready "$DIR/server.out" 2>/dev/null && break; sleep 0.1; done
if [ "${CIPHERS:-0}" = 1 ]; then
  cat >> "$DIR/controls.toml" <<'TOML'

[[control]]
id = "BENCH-TLS-NO-WEAK-SUITES"
title = "No weak cipher suite is accepted"
severity = "high"
probe = "tls"
targets = "bench"
expect = [ { fact = "ciphers.weak", op = "==", value = [] } ]
TOML
fi

set +e
/usr/bin/time -v "$BIN/vouch" check --controls "$DIR/controls.toml" --inventory "$DIR/vouch.toml" \
  --format json --output "$DIR/report.json" 2> "$DIR/time.txt"
CODE=$?
set -e
exec 3>&-                       # closing stdin makes the server write its counts
wait "$SERVER"

wall=$(grep "Elapsed (wall clock)" "$DIR/time.txt" | awk '{print $NF}')
rss=$(grep "Maximum resident set size" "$DIR/time.txt" | awk '{print $NF}')
python3 - "$DIR" "$N" "$CODE" "$wall" "$rss" "$PROFILE" <<'PY'
import json, sys
d, n, code, wall, rss, profile = sys.argv[1:]
counts = [int(l.split()[1]) for l in open(f"{d}/connections.txt")]
report = json.load(open(f"{d}/report.json"))
verdicts = [r["verdict"] for c in report["controls"] for r in c["results"]]
import os
mode = "versions + certificate + cipher suites" if os.environ.get("CIPHERS") == "1" else "versions + certificate"
print(f"tls bench ({profile}, {mode}): {n} endpoints, exit code {code}")
print(f"  wall time            {wall}")
print(f"  peak memory (RSS)    {int(rss) / 1024:.1f} MiB")
print(f"  connections/endpoint min {min(counts)}  max {max(counts)}  mean {sum(counts)/len(counts):.2f}  (target <= 8)")
print(f"  verdicts             " + ", ".join(f"{v}={verdicts.count(v)}" for v in sorted(set(verdicts))))
PY
