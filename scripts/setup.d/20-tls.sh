# Sourced by scripts/test. The TLS tests need the openssl CLI (Debian's openssl 3) for the
# legacy-version servers (`openssl s_server -tls1`, `-tls1_1`). Idempotent and quick when present.
tls_openssl_ok() {
  command -v openssl >/dev/null 2>&1 && openssl version 2>/dev/null | grep -q '^OpenSSL 3\.'
}
if ! tls_openssl_ok; then
  echo "    installing openssl"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi
tls_openssl_ok || { echo "error: the TLS tests need OpenSSL 3's CLI" >&2; return 1 2>/dev/null || exit 1; }
# TLS 1.0/1.1 must still be available at security level 0 (the tests lower it per server).
if ! openssl ciphers -s -tls1 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1; then
  echo "error: this openssl cannot offer TLS 1.0 suites even at SECLEVEL=0" >&2
  return 1 2>/dev/null || exit 1
fi
echo "    $(openssl version)"
