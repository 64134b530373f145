#!/usr/bin/env bash
# Benchmark of the AWS probes against moto's server: seeds 1,000 buckets and 200 KMS keys into a
# fresh server, then times `vouch probe aws.s3 '*'`, `vouch probe aws.kms '*'` and `vouch check`
# (the built-in ENC-REST-S3, INFRA-BUCKETS-PRIVATE and KEY-ROTATION) over all of them, and reports API calls per resource from moto's
# request log. Timing goals live here, never in tests.
#
#   scripts/bench-aws.sh                 # release build (slow to build on 2 cores)
#   VOUCH_BENCH_PROFILE=debug scripts/bench-aws.sh
#   BUCKETS=200 KEYS=50 scripts/bench-aws.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export VOUCH_REPO="$PWD"
BUCKETS="${BUCKETS:-1000}"
KEYS="${KEYS:-200}"
PROFILE="${VOUCH_BENCH_PROFILE:-release}"

PIDS_FILE="$(mktemp)"
export VOUCH_TEST_PIDS="$PIDS_FILE"
work="$(mktemp -d)"
cleanup() {
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDS_FILE"
  [ -n "${KEEP:-}" ] || rm -rf "$work"; rm -f "$PIDS_FILE"; echo "work: $work"
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

echo "==> seeding $BUCKETS buckets and $KEYS keys into $VOUCH_TEST_MOTO_URL"
seed_start=$(date +%s)
.venv/moto/bin/python - "$VOUCH_TEST_MOTO_URL" "$BUCKETS" "$KEYS" <<'PY'
import json, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
url, buckets, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kw = dict(endpoint_url=url, aws_access_key_id="bench", aws_secret_access_key="bench")
s3 = {r: boto3.client("s3", region_name=r, **kw) for r in ("eu-west-1", "us-west-2")}
kms = boto3.client("kms", region_name="eu-west-1", **kw)

def bucket(i):
    region = "us-west-2" if i % 10 == 0 else "eu-west-1"   # a tenth elsewhere
    name = f"bench-{i:05d}"
    c = s3[region]
    c.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if i % 3 == 0:
        c.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    elif i % 3 == 1:
        c.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
             "BucketKeyEnabled": True}]})
    if i % 2 == 0:
        c.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True})

def key(i):
    spec = "RSA_2048" if i % 10 == 0 else "SYMMETRIC_DEFAULT"
    usage = "SIGN_VERIFY" if spec != "SYMMETRIC_DEFAULT" else "ENCRYPT_DECRYPT"
    k = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    if spec == "SYMMETRIC_DEFAULT" and i % 2 == 0:
        kms.enable_key_rotation(KeyId=k)

with ThreadPoolExecutor(8) as pool:
    list(pool.map(bucket, range(buckets)))
    list(pool.map(key, range(keys)))
PY
echo "    seeded in $(( $(date +%s) - seed_start ))s"

cat > "$work/vouch.toml" <<TOML
[targets]
aws_buckets = ["*"]
aws_keys = ["*"]

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
  /usr/bin/time -o "$work/cpu" -f "%U %S" "$vouch" "$@" > "$work/out" 2> "$work/err" || rc=$?
  end=$(date +%s.%N)
  sleep 0.2
  after=$(requests)
  local calls=$(( after - before ))
  read -r user sys < <(tail -1 "$work/cpu")
  awk -v l="$label" -v s="$start" -v e="$end" -v c="$calls" -v n="$resources" -v rc="$rc" \
    -v cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
    'BEGIN { printf "%-28s %7.2fs wall  %6.2fs vouch CPU  %6d API calls  %5.2f calls/resource  exit %d\n", l, e - s, cpu, c, c / n, rc }'
}

echo "==> timing ($PROFILE build, --aws-concurrency ${AWS_CONCURRENCY:-8}, moto on loopback)"
conc=(--aws-concurrency "${AWS_CONCURRENCY:-8}")
run "probe aws.s3 '*'" "$BUCKETS" probe aws.s3 '*' --inventory "$work/vouch.toml" --format json "${conc[@]}"
jq -e "length == $BUCKETS" "$work/out" > /dev/null 2>&1 \
  || python3 -c "import json,sys; d=json.load(open('$work/out')); assert len(d)==$BUCKETS, len(d)"
run "probe aws.kms '*'" "$KEYS" probe aws.kms '*' --inventory "$work/vouch.toml" --format json "${conc[@]}"
run "check (s3 + kms controls)" "$(( BUCKETS + KEYS ))" check --controls builtin \
  --only ENC-REST-S3 --only INFRA-BUCKETS-PRIVATE --only KEY-ROTATION \
  --inventory "$work/vouch.toml" --format json "${conc[@]}"
python3 - "$work/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("    check: %d results, summary %s" % (sum(len(c["results"]) for c in r["controls"]),
      json.dumps(r["summary"])))
obs = r["observations"].values()
calls = sum(len(o["evidence"].get("api_calls", [])) for o in obs)
print("    evidence: %d observations, %d API calls recorded in them" % (len(r["observations"]), calls))
PY
