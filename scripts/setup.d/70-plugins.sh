# shellcheck shell=bash
# The plugin tests (tests/it/plugins.rs): BIND's named and dnssec-keygen/dnssec-signzone serve
# signed test zones for the DNS example plugin, which needs Python with dnspython and
# cryptography (a venv under .venv/plugins). Sourced by scripts/test; idempotent and quick when
# installed. Exports VOUCH_TEST_PLUGINS_VENV.
if ! { [ -x /usr/sbin/named ] && command -v dnssec-signzone >/dev/null 2>&1; }; then
  echo "    installing bind9 and bind9-utils for the DNS plugin tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends bind9 bind9-utils >/dev/null \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends bind9 bind9-utils >/dev/null; }
  apt-get clean || true
fi
# The package's own service is not what the tests use: each test starts named on its own port.
if command -v systemctl >/dev/null 2>&1; then systemctl stop named >/dev/null 2>&1 || true; fi
plugins_venv="${VOUCH_REPO:-$PWD}/.venv/plugins"
if ! "$plugins_venv/bin/python3" -c 'import dns.dnssec, cryptography' >/dev/null 2>&1; then
  echo "    creating $plugins_venv (dnspython, cryptography)"
  python3 -m venv "$plugins_venv"
  "$plugins_venv/bin/pip" install -q dnspython cryptography
fi
"$plugins_venv/bin/python3" -c 'import dns.dnssec, cryptography' \
  || { echo "error: $plugins_venv lacks dnspython" >&2; return 1 2>/dev/null || exit 1; }
export VOUCH_TEST_PLUGINS_VENV="$plugins_venv"
