#!/usr/bin/env bash
# Benchmark of the audit-logging probes against moto's server: seeds LOG_GROUPS CloudWatch log groups
# and TRAILS CloudTrail trails into a fresh server, then times `vouch probe aws.logs '*'` and a
# `vouch check` of the logging controls (the built-in LOG-RETENTION-365 and LOG-CLOUDTRAIL), and reports API calls
# per resource from moto's request log. The point: a log group costs 1/50 of a call (its facts
# come from the DescribeLogGroups page that listed it), a trail three. Timing goals live here,
# never in tests.
#
#   scripts/bench-aws-audit.sh                    # debug build (the test profile)
#   VOUCH_BENCH_PROFILE=release scripts/bench-aws-audit.sh
#   LOG_GROUPS=500 TRAILS=5 scripts/bench-aws-audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export VOUCH_REPO="$PWD"
LOG_GROUPS="${LOG_GROUPS:-2000}"
TRAILS="${TRAILS:-20}"
PROFILE="${VOUCH_BENCH_PROFILE:-debug}"

PIDS_FILE="$(mktemp)"
export VOUCH_TEST_PIDS="$PIDS_FILE"
work="$(mktemp -d)"
cleanup() {
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDS_FILE"
  [ -n "${KEEP:-}" ] || rm -rf "$work"; rm -f "$PIDS_FILE"
}
trap cleanup EXIT

# A fresh server of our own: the population is exactly what we seed.
# shellcheck source=setup.d/30-moto.sh
source scripts/setup.d/30-moto.sh
: "${VOUCH_TEST_MOTO_URL:?moto did not start}"
moto_log="${VOUCH_TEST_MOTO_URL_LOG:?moto did not start}"

if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin vouch
  vouch="target/release/vouch"
else
  cargo build --quiet --bin vouch
  vouch="target/debug/vouch"
fi

echo "==> seeding $LOG_GROUPS log groups and $TRAILS trails into $VOUCH_TEST_MOTO_URL"
seed_start=$(date +%s)
.venv/moto/bin/python - "$VOUCH_TEST_MOTO_URL" "$LOG_GROUPS" "$TRAILS" <<'PY'
import sys
from concurrent.futures import ThreadPoolExecutor
import boto3
url, groups, trails = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kw = dict(endpoint_url=url, region_name="eu-west-1",
          aws_access_key_id="bench", aws_secret_access_key="bench")
logs, ct, s3 = boto3.client("logs", **kw), boto3.client("cloudtrail", **kw), boto3.client("s3", **kw)

def group(i):
    name = f"/bench/{i:06d}"
    logs.create_log_group(logGroupName=name)
    if i % 4:   # a quarter never expire
        logs.put_retention_policy(logGroupName=name, retentionInDays=[30, 400, 3653][i % 3])

s3.create_bucket(Bucket="bench-trails", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
def trail(i):
    name = f"bench-{i:03d}"
    ct.create_trail(Name=name, S3BucketName="bench-trails", IsMultiRegionTrail=bool(i % 2),
                    EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName=name, EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    if i % 2:
        ct.start_logging(Name=name)

with ThreadPoolExecutor(8) as pool:
    list(pool.map(group, range(groups)))
    list(pool.map(trail, range(trails)))
PY
echo "    seeded in $(( $(date +%s) - seed_start ))s"

cat > "$work/vouch.toml" <<TOML
[targets]
aws_log_groups = ["*"]
aws_trails = ["*"]

[aws]
region = "eu-west-1"
endpoint_url = "$VOUCH_TEST_MOTO_URL"
TOML
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_PROFILE AWS_SESSION_TOKEN

# API calls = requests in moto's log between two marks.
requests() { grep -cE '"(.\[[0-9;]*m)?[A-Z]+ /' "$moto_log" || true; }

run() {
  local label="$1" resources="$2"; shift 2
  local before after start end rc=0
  before=$(requests)
  start=$(date +%s.%N)
  "$vouch" "$@" > "$work/out" 2> "$work/err" || rc=$?
  end=$(date +%s.%N)
  sleep 0.2
  after=$(requests)
  awk -v l="$label" -v s="$start" -v e="$end" -v c="$(( after - before ))" -v n="$resources" -v rc="$rc" \
    'BEGIN { printf "%-34s %7.2fs wall  %6d API calls  %6.3f calls/resource  exit %d\n", l, e - s, c, c / n, rc }'
}

echo "==> timing ($PROFILE build, moto on loopback)"
run "probe aws.logs '*'" "$LOG_GROUPS" probe aws.logs '*' --inventory "$work/vouch.toml" --format json
run "check LOG-RETENTION-365" "$LOG_GROUPS" check --controls builtin \
  --only LOG-RETENTION-365 --inventory "$work/vouch.toml" --format json
python3 - "$work/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
res = r["controls"][0]["results"]
print("    LOG-RETENTION-365: %d groups, %s" % (len(res),
      {v: sum(1 for x in res if x["verdict"] == v) for v in ("pass", "fail", "error")}))
PY
run "check LOG-CLOUDTRAIL" "$TRAILS" check --controls builtin \
  --only LOG-CLOUDTRAIL --inventory "$work/vouch.toml" --format json
