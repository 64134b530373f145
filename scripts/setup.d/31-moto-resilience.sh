# shellcheck shell=bash
# A second moto server, of a newer release, for the resilience probe tests
# (tests/it/aws_resilience.rs: aws.backup, aws.rds, aws.dynamodb). Sourced by scripts/test.
#
# Why not the server 30-moto.sh starts: that one is pinned to 5.0.28 for S3 (see there), and
# 5.0.28 lacks what these probes read: RDS LatestRestorableTime, DynamoDB
# RecoveryPeriodInDays, Backup DescribeBackupVault and Vault Lock. 5.2.5 has all four.
# Installs into .venv/moto-resilience once (fast when present), starts one server on a free
# loopback port, exports VOUCH_TEST_MOTO_RESILIENCE_URL, and records the PID in
# "$VOUCH_TEST_PIDS" so scripts/test stops it on exit.

moto_r_version="5.2.5"
moto_r_venv="${VOUCH_REPO:-$PWD}/.venv/moto-resilience"
if [ ! -e "$moto_r_venv/.installed-$moto_r_version" ]; then
  echo "    installing moto[server]==$moto_r_version into $moto_r_venv"
  if ! python3 -m venv "$moto_r_venv" 2>/dev/null; then
    # Debian splits venv out of the python3 package.
    apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
    python3 -m venv "$moto_r_venv"
  fi
  "$moto_r_venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_r_version"
  touch "$moto_r_venv/.installed-$moto_r_version"
fi

# A free port: bind to 0, read the port the kernel chose, release it for moto.
moto_r_port="$("$moto_r_venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
moto_r_log="$(mktemp -t vouch-moto-resilience.XXXXXX.log)"
"$moto_r_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_r_port" >"$moto_r_log" 2>&1 &
moto_r_pid=$!
echo "$moto_r_pid" >> "${VOUCH_TEST_PIDS:-/dev/null}"

moto_r_ready=""
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$moto_r_port/moto-api/" 2>/dev/null; then
    moto_r_ready=1
    break
  fi
  kill -0 "$moto_r_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$moto_r_ready" ]; then
  export VOUCH_TEST_MOTO_RESILIENCE_URL="http://127.0.0.1:$moto_r_port"
  echo "    moto_server $moto_r_version (pid $moto_r_pid) on $VOUCH_TEST_MOTO_RESILIENCE_URL, log $moto_r_log"
else
  echo "    moto_server $moto_r_version did not start; see $moto_r_log" >&2
  tail -n 20 "$moto_r_log" >&2 || true
fi
unset moto_r_version moto_r_venv moto_r_port moto_r_pid moto_r_ready moto_r_log
