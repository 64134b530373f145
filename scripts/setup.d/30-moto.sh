# shellcheck shell=bash
# moto's server: the AWS API emulator the aws.* probe tests talk to (tests/it/aws.rs).
# Sourced by scripts/test. Installs moto into .venv/moto once (fast when present), starts one
# server on a free loopback port for the whole run, and exports VOUCH_TEST_MOTO_URL.
# The server's PID goes to "$VOUCH_TEST_PIDS" so scripts/test stops it on exit.

# Pinned: moto 5.1+ answers GetBucketVersioning with a <GetBucketVersioningResponse> root, which
# the Rust SDK (rightly, per the S3 API reference) refuses; 5.0.28 answers <VersioningConfiguration>.
moto_version="5.0.28"
moto_venv="${VOUCH_REPO:-$PWD}/.venv/moto"
if [ ! -e "$moto_venv/.installed-$moto_version" ]; then
  echo "    installing moto[server] into $moto_venv"
  if ! python3 -m venv "$moto_venv" 2>/dev/null; then
    # Debian splits venv out of the python3 package.
    apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
    python3 -m venv "$moto_venv"
  fi
  "$moto_venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
  touch "$moto_venv/.installed-$moto_version"
fi

# A free port: bind to 0, read the port the kernel chose, release it for moto.
moto_port="$("$moto_venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
moto_log="$(mktemp -t vouch-moto.XXXXXX.log)"
"$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
moto_pid=$!
echo "$moto_pid" >> "${VOUCH_TEST_PIDS:-/dev/null}"

moto_ready=""
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" 2>/dev/null; then
    moto_ready=1
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$moto_ready" ]; then
  export VOUCH_TEST_MOTO_URL="http://127.0.0.1:$moto_port"
  echo "    moto_server (pid $moto_pid) on $VOUCH_TEST_MOTO_URL, log $moto_log"
else
  echo "    moto_server did not start; see $moto_log" >&2
  tail -n 20 "$moto_log" >&2 || true
fi
unset moto_version moto_venv moto_port moto_pid moto_ready
