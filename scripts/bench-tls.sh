#!/usr/bin/env bash
# Benchmark of the tls probe: `vouch check` over N loopback endpoints (one tokio-rustls server
# process listening on N ports, TLS 1.2 + 1.3, a CA given as [tls] ca_file), each scanned for
# every protocol version and its certificate. Reports wall time, peak memory (/usr/bin/time -v)
# and the TCP connections each endpoint accepted (target: <= 8).
#
#   scripts/bench-tls.sh [N=100]          # release build (PROFILE=dev for the debug build)
#   CIPHERS=1 scripts/bench-tls.sh 500    # also a control on ciphers.weak: full suite enumeration
#   SSLYZE=1 scripts/bench-tls.sh 100     # CIPHERS=1, then sslyze 6.x on the same endpoints
#                                         # (--tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --certinfo):
#                                         # wall and RSS of both, and whether the accepted suites agree
#
# sslyze (AGPL) is only run, never linked or copied: it is installed into .venv-sslyze/ under the
# worktree (gitignored) on first use, from PyPI.
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
if [ "${SSLYZE:-0}" = 1 ]; then
  export CIPHERS=1
  if [ ! -x .venv-sslyze/bin/sslyze ]; then
    python3 -m venv .venv-sslyze
    .venv-sslyze/bin/pip install -q 'sslyze==6.*'
  fi
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
if [ "${SSLYZE:-0}" = 1 ]; then
  # The same endpoints, by name (SNI) at their loopback address: host:port{ip}.
  python3 - "$DIR" > "$DIR/sslyze-targets.txt" <<'PY'
import re, sys
text = open(f"{sys.argv[1]}/vouch.toml").read()
for host, port in re.findall(r'"(bench-\d+\.test):(\d+)"', text.split("[resolve]")[0]):
    print(f"{host}:{port}{{127.0.0.1}}")
PY
  /usr/bin/time -v .venv-sslyze/bin/sslyze --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --certinfo \
    --certinfo_ca_file "$DIR/ca.pem" --targets_in "$DIR/sslyze-targets.txt" \
    --json_out "$DIR/sslyze.json" --quiet 2> "$DIR/sslyze-time.txt"
  echo "sslyze exit code $?" > "$DIR/sslyze-code.txt"
fi
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
if os.environ.get("SSLYZE") == "1":
    counts = [o["evidence"]["connections"] for o in report["observations"].values()]
    print("  (connections as vouch counted them; the server also saw sslyze's)")
print(f"  connections/endpoint min {min(counts)}  max {max(counts)}  mean {sum(counts)/len(counts):.2f}  (target <= 8 without ciphers)")
print(f"  verdicts             " + ", ".join(f"{v}={verdicts.count(v)}" for v in sorted(set(verdicts))))
PY
if [ "${SSLYZE:-0}" = 1 ]; then
  python3 - "$DIR" <<'PY'
import json, re, sys
d = sys.argv[1]
def time_of(path):
    t = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", t).group(1)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    return wall, rss / 1024
versions = ["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
fields = ["tls_1_0_cipher_suites", "tls_1_1_cipher_suites", "tls_1_2_cipher_suites", "tls_1_3_cipher_suites"]
vouch = {}
for o in json.load(open(f"{d}/report.json"))["observations"].values():
    host = o["target"]
    vouch[host] = {v: sorted(o["facts"].get(f"ciphers.{v}") or []) for v in versions}
sslyze, failed = {}, []
for r in json.load(open(f"{d}/sslyze.json"))["server_scan_results"]:
    loc = r["server_location"]
    host = f'{loc["hostname"]}:{loc["port"]}'
    if r.get("scan_status") != "COMPLETED" or not r.get("scan_result"):
        failed.append(host)
        continue
    res = r["scan_result"]
    got = {}
    for v, f in zip(versions, fields):
        attempt = res.get(f) or {}
        result = attempt.get("result") or {}
        got[v] = sorted(s["cipher_suite"]["name"] for s in result.get("accepted_cipher_suites", []))
    sslyze[host] = got
agree = sum(1 for h in vouch if sslyze.get(h) == vouch[h])
differ = [h for h in vouch if h in sslyze and sslyze[h] != vouch[h]]
vwall, vrss = time_of(f"{d}/time.txt")
swall, srss = time_of(f"{d}/sslyze-time.txt")
print("vouch vs sslyze 6.x (--tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --certinfo), same endpoints:")
print(f"  vouch                wall {vwall}  peak RSS {vrss:.1f} MiB")
print(f"  sslyze               wall {swall}  peak RSS {srss:.1f} MiB  ({open(f'{d}/sslyze-code.txt').read().strip()})")
suites = sum(len(x) for h in vouch for x in vouch[h].values())
print(f"  accepted suites      agree on {agree} of {len(vouch)} endpoints ({suites} accepted suites in all); differ on {len(differ)}; sslyze could not scan {len(failed)}")
for h in differ[:3]:
    print(f"    {h}: vouch {vouch[h]} / sslyze {sslyze[h]}")
PY
fi
