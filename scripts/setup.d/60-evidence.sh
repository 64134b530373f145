# Evidence tests: bundle signatures are checked with OpenSSL too, to prove the documented key and
# signature formats interoperate. Sourced by scripts/test; idempotent and quick when installed.
if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl for the evidence tests"
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi
