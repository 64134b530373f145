#!/usr/bin/env bash
# Benchmark of a multi-account run on moto's server: one organisation with ACCOUNTS member
# accounts (default 10), each seeded through its own assumed role with BUCKETS buckets (500)
# and KEYS KMS keys (100); then `vouch check` (the built-in ENC-REST-S3, INFRA-BUCKETS-PRIVATE and KEY-ROTATION) with
# `[aws.organization] role_name = "VouchAudit"` over every account: wall time, vouch CPU, API
# calls per resource (moto's request log) and peak memory (/usr/bin/time -v). Timing goals
# live here, never in tests.
#
#   scripts/bench-aws-accounts.sh                  # release build (slow to build on 2 cores)
#   VOUCH_BENCH_PROFILE=debug scripts/bench-aws-accounts.sh
#   ACCOUNTS=3 BUCKETS=50 KEYS=10 scripts/bench-aws-accounts.sh
#   VOUCH_BIN=target/debug/vouch scripts/bench-aws-accounts.sh   # no build
set -euo pipefail
cd "$(dirname "$0")/.."
export VOUCH_REPO="$PWD"
ACCOUNTS="${ACCOUNTS:-10}"
BUCKETS="${BUCKETS:-500}"
KEYS="${KEYS:-100}"
PROFILE="${VOUCH_BENCH_PROFILE:-release}"

PIDS_FILE="$(mktemp)"
export VOUCH_TEST_PIDS="$PIDS_FILE"
work="$(mktemp -d)"
cleanup() {
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDS_FILE"
  [ -n "${KEEP:-}" ] || rm -rf "$work"; rm -f "$PIDS_FILE"; echo "work: $work"
}
trap cleanup EXIT

# A fresh server of our own: the organisation and population are exactly what we seed.
# (VOUCH_MOTO_VENV: an existing moto 5.0.28 venv instead of ./.venv/moto, installed on first use.)
venv="${VOUCH_MOTO_VENV:-$PWD/.venv/moto}"
# shellcheck source=lib/moto.sh
source scripts/lib/moto.sh
start_moto 5.0.28 "$venv" VOUCH_TEST_MOTO_URL
: "${VOUCH_TEST_MOTO_URL:?moto did not start}"
moto_log="${VOUCH_TEST_MOTO_URL_LOG:?moto did not start}"

if [ -n "${VOUCH_BIN:-}" ]; then
  vouch="$VOUCH_BIN"        # a binary already built (e.g. by `cargo build --tests`)
  PROFILE="given binary"
elif [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin vouch
  vouch="target/release/vouch"
else
  cargo build --quiet --bin vouch
  vouch="target/debug/vouch"
fi

echo "==> seeding $ACCOUNTS accounts x ($BUCKETS buckets + $KEYS keys) into $VOUCH_TEST_MOTO_URL"
seed_start=$(date +%s)
"$venv/bin/python" - "$VOUCH_TEST_MOTO_URL" "$ACCOUNTS" "$BUCKETS" "$KEYS" <<'PY'
import sys
from concurrent.futures import ThreadPoolExecutor
import boto3
url, accounts, buckets, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
region = "eu-west-1"
kw = dict(endpoint_url=url, region_name=region, aws_access_key_id="bench", aws_secret_access_key="bench")
org = boto3.client("organizations", **kw)
org.create_organization(FeatureSet="ALL")
ids = [org.create_account(AccountName=f"member-{n:02d}", Email=f"m{n}@example.com")
       ["CreateAccountStatus"]["AccountId"] for n in range(accounts)]
sts = boto3.client("sts", **kw)

def seed(account):
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/Seed", RoleSessionName="seed")["Credentials"]
    ck = dict(endpoint_url=url, region_name=region, aws_access_key_id=c["AccessKeyId"],
              aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    s3, kms = boto3.client("s3", **ck), boto3.client("kms", **ck)
    for i in range(buckets):
        name = f"b-{account}-{i:04d}"
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if i % 2 == 0:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    for i in range(keys):
        k = kms.create_key()["KeyMetadata"]["KeyId"]
        if i % 2 == 0:
            kms.enable_key_rotation(KeyId=k)

with ThreadPoolExecutor(8) as pool:
    list(pool.map(seed, ids))
print("    member accounts:", " ".join(ids))
PY
echo "    seeded in $(( $(date +%s) - seed_start ))s"

cat > "$work/vouch.toml" <<TOML
[targets]
aws_buckets = ["*"]
aws_keys = ["*"]

[aws]
region = "eu-west-1"
endpoint_url = "$VOUCH_TEST_MOTO_URL"

[aws.organization]
role_name = "VouchAudit"
exclude_accounts = ["123456789012"]   # the management account itself (holds nothing here)
TOML
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_PROFILE AWS_SESSION_TOKEN

# API calls = requests in moto's log between two marks.
requests() { grep -cE '"(.\[[0-9;]*m)?[A-Z]+ /' "$moto_log" || true; }

resources=$(( ACCOUNTS * (BUCKETS + KEYS) ))
echo "==> vouch check over $ACCOUNTS accounts, $resources resources ($PROFILE build, --aws-concurrency ${AWS_CONCURRENCY:-8})"
before=$(requests)
start=$(date +%s.%N)
rc=0
/usr/bin/time -v -o "$work/time" "$vouch" check --controls builtin \
  --only ENC-REST-S3 --only INFRA-BUCKETS-PRIVATE --only KEY-ROTATION \
  --inventory "$work/vouch.toml" --format json --output "$work/report.json" \
  --aws-concurrency "${AWS_CONCURRENCY:-8}" 2> "$work/err" || rc=$?
end=$(date +%s.%N)
sleep 0.5
after=$(requests)
calls=$(( after - before ))
peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u + s}' "$work/time")
awk -v s="$start" -v e="$end" -v c="$calls" -v n="$resources" -v rc="$rc" -v kb="$peak_kb" -v cpu="$cpu" \
  'BEGIN { printf "    %.2fs wall  %.2fs vouch CPU  %d API calls  %.2f calls/resource  peak RSS %.1f MB  exit %d\n", e - s, cpu, c, c / n, kb / 1024, rc }'
python3 - "$work/report.json" "$ACCOUNTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
accounts = r["summary"].get("accounts", [])
print("    %d results in %d accounts; summary %s" % (
    sum(len(c["results"]) for c in r["controls"]), len(accounts),
    json.dumps({k: v for k, v in r["summary"].items() if k != "accounts"})))
ctx = r["run"]["context"]["aws.accounts"]
print("    scanned %d (from %s), skipped %d" % (len(ctx["scanned"]), ctx["from"], len(ctx["skipped"])))
assert len(ctx["scanned"]) == int(sys.argv[2]), ctx["scanned"]
PY
