#!/usr/bin/env bash
# Benchmark of the resilience probes against moto's server (5.2.5, scripts/setup.d/
# 31-moto-resilience.sh): seeds RDS instances, Aurora clusters, DynamoDB tables and Backup vaults
# into a fresh server, then times `vouch probe aws.rds|aws.dynamodb|aws.backup '*'` and
# `vouch check` (the built-in RDS, DynamoDB and backup-vault controls) over all of them, and reports API calls per
# resource from moto's request log. Timing goals live here, never in tests.
#
# moto implements no restore jobs or recovery points (404), so aws.backup's numbers here are a
# floor: against AWS each vault also reads every page of ListRecoveryPointsByBackupVault and of
# the region's ListRestoreJobs.
#
#   scripts/bench-resilience.sh                        # debug build (what the tests build)
#   VOUCH_BENCH_PROFILE=release scripts/bench-resilience.sh
#   DBS=200 CLUSTERS=20 TABLES=200 VAULTS=50 scripts/bench-resilience.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export VOUCH_REPO="$PWD"
DBS="${DBS:-100}"
CLUSTERS="${CLUSTERS:-10}"
TABLES="${TABLES:-100}"
VAULTS="${VAULTS:-20}"
PROFILE="${VOUCH_BENCH_PROFILE:-debug}"

PIDS_FILE="$(mktemp)"
export VOUCH_TEST_PIDS="$PIDS_FILE"
work="$(mktemp -d)"
cleanup() {
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$PIDS_FILE"
  [ -n "${KEEP:-}" ] || rm -rf "$work"; rm -f "$PIDS_FILE"; echo "work: $work"
}
trap cleanup EXIT

# A fresh server of our own: the population is exactly what we seed.
# shellcheck source=setup.d/31-moto-resilience.sh
source scripts/setup.d/31-moto-resilience.sh
url="${VOUCH_TEST_MOTO_RESILIENCE_URL:?moto did not start}"
moto_log="${VOUCH_TEST_MOTO_RESILIENCE_URL_LOG:?moto did not start}"

if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin vouch
  vouch="target/release/vouch"
else
  cargo build --quiet --bin vouch
  vouch="target/debug/vouch"
fi

echo "==> seeding $DBS instances, $CLUSTERS Aurora clusters (2 members each), $TABLES tables, $VAULTS vaults"
seed_start=$(date +%s)
.venv/moto-resilience/bin/python - "$url" "$DBS" "$CLUSTERS" "$TABLES" "$VAULTS" <<'PY'
import sys
from concurrent.futures import ThreadPoolExecutor
import boto3
url, dbs, clusters, tables, vaults = sys.argv[1], *map(int, sys.argv[2:6])
kw = dict(endpoint_url=url, region_name="eu-west-1", aws_access_key_id="bench",
          aws_secret_access_key="bench")
rds, ddb, backup = (boto3.client(s, **kw) for s in ("rds", "dynamodb", "backup"))

def db(i):
    rds.create_db_instance(DBInstanceIdentifier=f"bench-db-{i:04d}", Engine="postgres",
        DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="bench",
        MasterUserPassword="bench-password", MultiAZ=i % 2 == 0, PubliclyAccessible=i % 5 == 0,
        StorageEncrypted=i % 3 != 0, BackupRetentionPeriod=0 if i % 7 == 0 else 7)

def cluster(i):
    cid = f"bench-aurora-{i:03d}"
    rds.create_db_cluster(DBClusterIdentifier=cid, Engine="aurora-postgresql",
        MasterUsername="bench", MasterUserPassword="bench-password", StorageEncrypted=True,
        BackupRetentionPeriod=7)
    for m, az in enumerate(("eu-west-1a", "eu-west-1b" if i % 2 else "eu-west-1a")):
        rds.create_db_instance(DBInstanceIdentifier=f"{cid}-{m}", DBClusterIdentifier=cid,
            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large", AvailabilityZone=az)

def table(i):
    name = f"bench-table-{i:04d}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    if i % 2 == 0:
        ddb.update_continuous_backups(TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

def vault(i):
    backup.create_backup_vault(BackupVaultName=f"bench-vault-{i:03d}")

with ThreadPoolExecutor(8) as pool:
    for f, n in ((db, dbs), (cluster, clusters), (table, tables), (vault, vaults)):
        list(pool.map(f, range(n)))
PY
echo "    seeded in $(( $(date +%s) - seed_start ))s"

cat > "$work/vouch.toml" <<TOML
[targets]
aws_vaults = ["*"]
aws_databases = ["*"]
aws_tables = ["*"]

[aws]
region = "eu-west-1"
endpoint_url = "$url"
TOML
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

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
    'BEGIN { printf "%-30s %7.2fs wall  %6.2fs vouch CPU  %6d API calls  %5.2f calls/resource  exit %d\n", l, e - s, cpu, c, c / n, rc }'
}

echo "==> timing ($PROFILE build, --aws-concurrency ${AWS_CONCURRENCY:-8}, moto on loopback)"
conc=(--aws-concurrency "${AWS_CONCURRENCY:-8}")
inv=(--inventory "$work/vouch.toml")
run "probe aws.rds '*'" "$(( DBS + CLUSTERS ))" probe aws.rds '*' "${inv[@]}" --format json "${conc[@]}"
run "probe aws.dynamodb '*'" "$TABLES" probe aws.dynamodb '*' "${inv[@]}" --format json "${conc[@]}"
run "probe aws.backup '*'" "$VAULTS" probe aws.backup '*' "${inv[@]}" --format json "${conc[@]}"
run "check (resilience controls)" "$(( DBS + CLUSTERS + TABLES + VAULTS ))" check \
  --controls builtin --only BACKUP-RDS-PITR --only ENC-REST-DATABASES --only INFRA-MULTI-AZ \
  --only INFRA-DATABASES-PRIVATE --only BACKUP-DYNAMODB-PITR --only BACKUP-RECOVERY-POINT-FRESH \
  --only BACKUP-ENCRYPTED "${inv[@]}" --format json "${conc[@]}"
python3 - "$work/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("    check: %d results, summary %s" % (sum(len(c["results"]) for c in r["controls"]),
      json.dumps(r["summary"])))
obs = r["observations"].values()
calls = sum(len(o["evidence"].get("api_calls", [])) for o in obs)
print("    evidence: %d observations, %d API calls recorded in them" % (len(r["observations"]), calls))
PY
