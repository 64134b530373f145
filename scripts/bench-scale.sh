#!/usr/bin/env bash
# Scale benchmark: `vouch check` over N loopback TLS endpoints (one tokio-rustls server process
# listening on N ports, see examples/tls_bench_server.rs) with an evidence bundle, once in one
# process and once as SHARDS shards (`--shard K/SHARDS`, one process each, run one after the
# other) merged with `vouch merge`. Prints wall time and peak RSS (/usr/bin/time -v) of every
# process, the merge's, and whether the merged verdicts equal the single run's.
#
#   scripts/bench-scale.sh [N=5000]              # release build (PROFILE=dev for the debug build)
#   SHARDS=4 PROFILE=dev scripts/bench-scale.sh 5000
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-5000}"
SHARDS="${SHARDS:-4}"
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
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
DIR="$(mktemp -d)"
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkfifo "$DIR/stdin"
"$BIN/examples/tls_bench_server" "$N" "$DIR" < "$DIR/stdin" > "$DIR/server.out" &
SERVER=$!
exec 3> "$DIR/stdin"            # holding the fifo open keeps the server serving
for _ in $(seq 600); do grep -q ready "$DIR/server.out" 2>/dev/null && break; sleep 0.1; done

# name, then the command: runs it under /usr/bin/time -v, keeps "name wall rss code".
measure() {
  local name="$1"; shift
  set +e
  /usr/bin/time -v "$@" > /dev/null 2> "$DIR/$name.time"
  local code=$?
  set -e
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$DIR/$name.time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$DIR/$name.time" | awk '{print $NF}')
  echo "$name $wall $rss $code" >> "$DIR/results.txt"
}

CHECK=("$BIN/vouch" check --controls "$DIR/controls.toml" --inventory "$DIR/vouch.toml" -q)
# Reports are read from the bundles (report.json, streamed to disk); stdout gets the table.
measure single "${CHECK[@]}" --evidence-dir "$DIR/single"
for k in $(seq "$SHARDS"); do
  measure "shard-${k}of$SHARDS" "${CHECK[@]}" --shard "$k/$SHARDS" --evidence-dir "$DIR/shard-$k"
done
SHARD_DIRS=()
for k in $(seq "$SHARDS"); do SHARD_DIRS+=("$DIR/shard-$k"); done
measure merge "$BIN/vouch" merge "${SHARD_DIRS[@]}" --allow-unsigned -q --evidence-dir "$DIR/merged"
exec 3>&-
wait "$SERVER" || true

python3 - "$DIR" "$N" "$SHARDS" "$PROFILE" <<'PY'
import json, sys
d, n, shards, profile = sys.argv[1:]
def rows(path):
    r = json.load(open(path))
    return sorted((c["id"], x["target"], x["verdict"]) for c in r["controls"] for x in c["results"]), r
single, sr = rows(f"{d}/single/report.json")
merged, mr = rows(f"{d}/merged/report.json")
print(f"scale bench ({profile}): {n} TLS endpoints, one run and {shards} shards merged")
for line in open(f"{d}/results.txt"):
    name, wall, rss, code = line.split()
    print(f"  {name:<12} wall {wall:>9}  peak RSS {int(rss) / 1024:7.1f} MiB  exit {code}")
verdicts = {}
for _, _, v in single:
    verdicts[v] = verdicts.get(v, 0) + 1
print(f"  verdicts (single)   " + ", ".join(f"{k}={v}" for k, v in sorted(verdicts.items())))
print(f"  merged == single    {merged == single} (summary {mr['summary'] == sr['summary']})")
PY
