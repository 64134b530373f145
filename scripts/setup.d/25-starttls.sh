# shellcheck shell=bash
# STARTTLS tests (tests/it/starttls.rs): a real PostgreSQL server (Debian's postgresql: each test
# runs initdb in a temporary directory and starts its own `postgres` on a free loopback port, as
# the postgres user when the tests run as root) and a real SMTP server (PyPI aiosmtpd, in a venv:
# with --tlscert/--tlskey it offers STARTTLS, without them it does not). Sourced by scripts/test;
# idempotent and quick when installed. Exports VOUCH_TEST_PG_BIN (the directory holding initdb
# and postgres) and VOUCH_TEST_AIOSMTPD (the venv's python).
starttls_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}
if [ -z "$(starttls_pg_bin)" ]; then
  echo "    installing postgresql (Debian package) for the STARTTLS tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  # The package would start a cluster of its own; the tests start theirs, so stop it again.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
if [ -n "$(starttls_pg_bin)" ]; then
  VOUCH_TEST_PG_BIN="$(starttls_pg_bin)"
  export VOUCH_TEST_PG_BIN
  echo "    postgres: $("$VOUCH_TEST_PG_BIN/postgres" --version)"
else
  echo "    postgresql did not install; the STARTTLS PostgreSQL tests will fail" >&2
fi

starttls_venv="${VOUCH_REPO:-$PWD}/.venv/aiosmtpd"
starttls_aiosmtpd_version=1.4.6
if [ ! -e "$starttls_venv/.installed-$starttls_aiosmtpd_version" ]; then
  echo "    installing aiosmtpd==$starttls_aiosmtpd_version into $starttls_venv"
  if ! python3 -m venv "$starttls_venv" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
    python3 -m venv "$starttls_venv"
  fi
  PIP_NO_CACHE_DIR=1 "$starttls_venv/bin/pip" install --quiet --disable-pip-version-check \
    "aiosmtpd==$starttls_aiosmtpd_version" \
    && touch "$starttls_venv/.installed-$starttls_aiosmtpd_version"
fi
if [ -e "$starttls_venv/.installed-$starttls_aiosmtpd_version" ]; then
  VOUCH_TEST_AIOSMTPD="$starttls_venv/bin/python"
  export VOUCH_TEST_AIOSMTPD
  echo "    aiosmtpd $starttls_aiosmtpd_version: $VOUCH_TEST_AIOSMTPD"
else
  echo "    aiosmtpd did not install; the STARTTLS SMTP tests will fail" >&2
fi
