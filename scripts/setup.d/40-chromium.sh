# Headless Chromium for the HTML report test (tests/it/formats.rs): it opens the rendered report,
# checks the DOM and the console, and takes a screenshot. Idempotent; instant when installed.
# Sourced by scripts/test: exports VOUCH_CHROMIUM for the test.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the HTML report test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
  # The downloaded .debs are not needed once installed; keep the CI machine's disk free.
  apt-get clean || true
fi
if command -v chromium >/dev/null 2>&1; then
  VOUCH_CHROMIUM="$(command -v chromium)"
  export VOUCH_CHROMIUM
fi
