# Sourced by scripts/test. The `vouch man` test renders the page with `man -l` (man-db) through
# groff. Idempotent and quick when present.
man_ok() {
  command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1
}
if ! man_ok; then
  echo "    installing man-db and groff"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq man-db groff-base >/dev/null
fi
man_ok || { echo "error: the manual-page test needs man-db and groff" >&2; return 1 2>/dev/null || exit 1; }
echo "    $(man --version 2>/dev/null | head -1)"
