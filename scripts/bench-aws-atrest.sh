#!/usr/bin/env bash
# Benchmark of the at-rest probes (#17) against a fresh moto server (5.2.5, scripts/setup.d/
# 31-moto-resilience.sh): seeds EBS volumes and snapshots (every third unencrypted, every tenth
# snapshot public), then times `vouch probe aws.ec2 '*'` and `vouch check` of the at-rest
# controls, with wall time, vouch's CPU, peak memory (max RSS) and API calls per resource from
# moto's request log. Timing goals live here, never in tests.
#
# moto returns every volume and snapshot in one page, so discovery is one call each here;
# against AWS it is one call per 500 volumes / 500 snapshots (the page size vouch asks for).
# Per resource: a volume costs one DescribeVolumes, a snapshot one DescribeSnapshots and one
# DescribeSnapshotAttribute.
#
#   scripts/bench-aws-atrest.sh                          # debug build (what the tests build)
#   VOUCH_BENCH_PROFILE=release scripts/bench-aws-atrest.sh
#   VOLUMES=500 SNAPSHOTS=500 scripts/bench-aws-atrest.sh
#   VOUCH_BIN=target/debug/vouch scripts/bench-aws-atrest.sh   # no build
set -euo pipefail
cd "$(dirname "$0")/.."
export VOUCH_REPO="$PWD"
VOLUMES="${VOLUMES:-500}"
SNAPSHOTS="${SNAPSHOTS:-500}"
PROFILE="${VOUCH_BENCH_PROFILE:-debug}"

PIDS_FILE="$(mktemp)"
export VOUCH_TEST_PIDS="$PIDS_FILE"
work="$(mktemp -d)"
cleanup() {
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDS_FILE"
  [ -n "${KEEP:-}" ] || rm -rf "$work"; rm -f "$PIDS_FILE"; echo "work: $work"
}
trap cleanup EXIT

# shellcheck source=setup.d/31-moto-resilience.sh
source scripts/setup.d/31-moto-resilience.sh
url="${VOUCH_TEST_MOTO_RESILIENCE_URL:?moto did not start}"
moto_log="${VOUCH_TEST_MOTO_RESILIENCE_URL_LOG:?moto did not start}"

if [ -n "${VOUCH_BIN:-}" ]; then
  # An already built binary: `cargo build --bin vouch` alone unifies features without the
  # dev-dependencies and rebuilds every AWS SDK crate of a test build's target directory.
  vouch="$VOUCH_BIN"
elif [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin vouch
  vouch="target/release/vouch"
else
  cargo build --quiet --bin vouch
  vouch="target/debug/vouch"
fi

echo "==> seeding $VOLUMES volumes and $SNAPSHOTS snapshots"
seed_start=$(date +%s)
.venv/moto-resilience/bin/python - "$url" "$VOLUMES" "$SNAPSHOTS" <<'PY'
import sys
from concurrent.futures import ThreadPoolExecutor
import boto3
url, volumes, snapshots = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ec2 = boto3.client("ec2", endpoint_url=url, region_name="eu-west-1",
                   aws_access_key_id="bench", aws_secret_access_key="bench")
ids = []
def volume(i):
    v = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=1, Encrypted=i % 3 != 0)
    return v["VolumeId"]
def snapshot(i):
    s = ec2.create_snapshot(VolumeId=ids[i % len(ids)])["SnapshotId"]
    if i % 10 == 0:
        ec2.modify_snapshot_attribute(SnapshotId=s, Attribute="createVolumePermission",
                                      OperationType="add", GroupNames=["all"])
with ThreadPoolExecutor(8) as pool:
    ids = list(pool.map(volume, range(volumes)))
    list(pool.map(snapshot, range(snapshots)))
PY
echo "    seeded in $(( $(date +%s) - seed_start ))s"

cat > "$work/vouch.toml" <<TOML
[targets]
aws_ebs_defaults = ["ebs-default:*"]
aws_block_storage = ["*"]

[aws]
region = "eu-west-1"
endpoint_url = "$url"
TOML
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

requests() { grep -cE '"(.\[[0-9;]*m)?[A-Z]+ /' "$moto_log" || true; }
count() { grep -cE "$1" "$moto_log" || true; }

run() {
  local label="$1" resources="$2"; shift 2
  local before after start end rc=0
  before=$(requests)
  start=$(date +%s.%N)
  /usr/bin/time -o "$work/cpu" -f "%U %S %M" "$vouch" "$@" > "$work/out" 2> "$work/err" || rc=$?
  end=$(date +%s.%N)
  sleep 0.2
  after=$(requests)
  local calls=$(( after - before ))
  read -r user sys rss < <(tail -1 "$work/cpu")
  awk -v l="$label" -v s="$start" -v e="$end" -v c="$calls" -v n="$resources" -v rc="$rc" \
    -v cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" -v rss="$rss" \
    'BEGIN { printf "%-28s %7.2fs wall  %6.2fs CPU  %6.1f MiB peak  %6d API calls  %5.2f calls/resource  exit %d\n", l, e - s, cpu, rss / 1024, c, c / n, rc }'
}

echo "==> timing ($PROFILE build, --aws-concurrency ${AWS_CONCURRENCY:-8}, moto on loopback)"
conc=(--aws-concurrency "${AWS_CONCURRENCY:-8}")
inv=(--inventory "$work/vouch.toml")
n=$(( VOLUMES + SNAPSHOTS ))
run "probe aws.ec2 '*'" "$n" probe aws.ec2 '*' "${inv[@]}" --format json "${conc[@]}"
python3 - "$work/out" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
obs = doc if isinstance(doc, list) else doc.get("observations", [doc])
kinds = {}
for o in obs:
    kinds[o["facts"].get("kind")] = kinds.get(o["facts"].get("kind"), 0) + 1
print("    observations by kind: %s" % json.dumps(kinds))
PY
run "check (EBS controls)" "$(( n + 1 ))" check --only ENC-REST-EBS --only ENC-REST-EBS-DEFAULT \
  --only ENC-REST-EBS-SNAPSHOTS-PRIVATE "${inv[@]}" --format json "${conc[@]}"
python3 - "$work/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["controls"]:
    v = {}
    for x in c["results"]:
        v[x["verdict"]] = v.get(x["verdict"], 0) + 1
    print("    %-32s %s" % (c["id"], json.dumps(v)))
PY
