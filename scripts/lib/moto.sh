# shellcheck shell=bash
# start_moto VERSION VENV URL_VAR: install moto[server]==VERSION into VENV once (instant when
# present), start one server on a free loopback port, export URL_VAR=http://127.0.0.1:PORT and
# URL_VAR_LOG=its request log (the benchmarks count API calls there), and record the PID in
# "$VOUCH_TEST_PIDS" so the caller's exit trap stops it.
# Sourced by scripts/setup.d/3*-moto*.sh (tests) and, through them, scripts/demo.
start_moto() {
  local version="$1" venv="$2" url_var="$3"
  if [ ! -e "$venv/.installed-$version" ]; then
    echo "    installing moto[server]==$version into $venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      # Debian splits venv out of the python3 package.
      apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
      python3 -m venv "$venv"
    fi
    # No pip cache: the wheels are installed once into the venv; a cache would only double the
    # disk a CI machine needs.
    PIP_NO_CACHE_DIR=1 "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "moto[server]==$version"
    touch "$venv/.installed-$version"
  fi

  # A free port: bind to 0, read the port the kernel chose, release it for moto.
  local port log pid ready=""
  port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  log="$(mktemp -t "vouch-moto-$version.XXXXXX.log")"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  pid=$!
  echo "$pid" >> "${VOUCH_TEST_PIDS:-/dev/null}"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
      ready=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$ready" ]; then
    export "$url_var=http://127.0.0.1:$port" "${url_var}_LOG=$log"
    echo "    moto_server $version (pid $pid) on http://127.0.0.1:$port, log $log"
  else
    # The tests that need it fail when CI=true (tests/it/support.rs require()); say why here.
    echo "    moto_server $version did not start; see $log" >&2
    tail -n 20 "$log" >&2 || true
  fi
}
