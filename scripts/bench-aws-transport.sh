#!/usr/bin/env bash
# Benchmark of the transport probes (issue #17) against a fresh moto 5.2.5 server: seeds
# LBS Application load balancers with 3 listeners each (two HTTPS on one of three security
# policies, one HTTP redirecting or not) and DISTRIBUTIONS CloudFront distributions, then times
# `vouch probe aws.elbv2 '*'`, `vouch probe aws.cloudfront '*'` and `vouch check` of
# ENC-TRANSIT-LOAD-BALANCERS and ENC-TRANSIT-CDN; reports wall time, vouch's CPU, peak memory
# (max RSS), API calls per resource from moto's request log, and how many DescribeSSLPolicies
# calls the evidence holds (once per distinct policy and region, not per listener).
# moto 5.2.5, not the 5.0.28 the S3 tests pin: the SDK cannot read 5.0.28's CloudFront answers.
#
#   scripts/bench-aws-transport.sh                 # release build (slow to build on 2 cores)
#   VOUCH_BENCH_PROFILE=debug scripts/bench-aws-transport.sh
#   LBS=50 DISTRIBUTIONS=20 scripts/bench-aws-transport.sh
#   VOUCH_BENCH_BIN=target/debug/vouch scripts/bench-aws-transport.sh   # no build
set -euo pipefail
cd "$(dirname "$0")/.."
export VOUCH_REPO="$PWD"
LBS="${LBS:-200}"
DISTRIBUTIONS="${DISTRIBUTIONS:-100}"
PROFILE="${VOUCH_BENCH_PROFILE:-release}"

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

if [ -n "${VOUCH_BENCH_BIN:-}" ]; then
  # An already built binary (e.g. target/debug/vouch from `cargo build --all-targets`, whose
  # dependency features differ from a bin-only build's: building --bin would rebuild the SDK).
  vouch="$VOUCH_BENCH_BIN"
elif [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin vouch
  vouch="target/release/vouch"
else
  cargo build --quiet --bin vouch
  vouch="target/debug/vouch"
fi

echo "==> seeding $LBS load balancers x 3 listeners and $DISTRIBUTIONS distributions into $url"
seed_start=$(date +%s)
.venv/moto-resilience/bin/python - "$url" "$LBS" "$DISTRIBUTIONS" <<'PY'
import sys
from concurrent.futures import ThreadPoolExecutor
import boto3
url, lbs, dists = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kw = dict(endpoint_url=url, aws_access_key_id="bench", aws_secret_access_key="bench",
          region_name="eu-west-1")
ec2, elb, acm = (boto3.client(s, **kw) for s in ("ec2", "elbv2", "acm"))
cf = boto3.client("cloudfront", **dict(kw, region_name="us-east-1"))
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                             AvailabilityZone=f"eu-west-1{az}")["Subnet"]["SubnetId"]
           for i, az in enumerate("ab")]
cert = acm.request_certificate(DomainName="app.example.com")["CertificateArn"]
policies = ["ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-2016-08",
            "ELBSecurityPolicy-TLS-1-2-2017-01"]
fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]

def lb(i):
    arn = elb.create_load_balancer(Name=f"bench-{i:04d}", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"]
    for port in (443, 8443):
        elb.create_listener(LoadBalancerArn=arn, Protocol="HTTPS", Port=port,
                            SslPolicy=policies[i % 3], Certificates=[{"CertificateArn": cert}],
                            DefaultActions=fixed)
    http = fixed if i % 5 == 0 else [{"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]
    elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=http)

def dist(i):
    cf.create_distribution(DistributionConfig={
        "CallerReference": f"bench-{i}", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.example.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                "OriginProtocolPolicy": "https-only" if i % 2 else "http-only",
                "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]}}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "MinTTL": 0,
            "ViewerProtocolPolicy": "redirect-to-https" if i % 2 else "allow-all"},
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True}})

with ThreadPoolExecutor(8) as pool:
    list(pool.map(lb, range(lbs)))
    list(pool.map(dist, range(dists)))
PY
echo "    seeded in $(( $(date +%s) - seed_start ))s"

cat > "$work/vouch.toml" <<TOML
[targets]
aws_load_balancers = ["*"]
aws_distributions = ["*"]

[aws]
region = "eu-west-1"
endpoint_url = "$url"
TOML
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_PROFILE AWS_SESSION_TOKEN

requests() { grep -cE '"(.\[[0-9;]*m)?[A-Z]+ /' "$moto_log" || true; }

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
    -v rss="$rss" -v cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
    'BEGIN { printf "%-30s %7.2fs wall  %6.2fs CPU  %6.1f MB peak  %6d API calls  %5.2f calls/resource  exit %d\n", l, e - s, cpu, rss / 1024, c, c / n, rc }'
}

# DescribeSSLPolicies calls in the evidence (distinct request ids) and observations.
policy_calls() {
  python3 - "$work/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
obs = d if isinstance(d, list) else list(d["observations"].values())
ids = {c.get("request_id") for o in obs for c in o["evidence"].get("api_calls", [])
       if c["action"] == "elasticloadbalancing:DescribeSSLPolicies"}
listeners = sum(len(o["evidence"].get("listeners", [])) for o in obs)
print("    %d observations, %d listeners, %d DescribeSSLPolicies calls (distinct request ids)"
      % (len(obs), listeners, len(ids)))
PY
}

echo "==> timing ($PROFILE build, --aws-concurrency ${AWS_CONCURRENCY:-8}, moto 5.2.5 on loopback)"
conc=(--aws-concurrency "${AWS_CONCURRENCY:-8}")
run "probe aws.elbv2 '*'" "$LBS" probe aws.elbv2 '*' --inventory "$work/vouch.toml" --format json "${conc[@]}"
policy_calls
run "probe aws.cloudfront '*'" "$DISTRIBUTIONS" probe aws.cloudfront '*' --inventory "$work/vouch.toml" --format json "${conc[@]}"
python3 -c "import json,sys; d=json.load(open('$work/out')); print('    %d distributions observed' % len(d))"
run "check (LB + CDN controls)" "$(( LBS + DISTRIBUTIONS ))" check --inventory "$work/vouch.toml" \
  --only ENC-TRANSIT-LOAD-BALANCERS --only ENC-TRANSIT-CDN --format json "${conc[@]}"
python3 - "$work/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("    check: %d results, summary %s" % (sum(len(c["results"]) for c in r["controls"]),
      json.dumps(r["summary"])))
PY
policy_calls
