# shellcheck shell=bash
# Example tests (tests/it/examples.rs): the YAML under examples/ and action.yml parse, and the
# Kubernetes manifests validate against Kubernetes' published schemas with PyPI's
# kubernetes-validate (which ships them), in a venv under .venv/examples. Sourced by scripts/test;
# idempotent and quick when installed. systemd-analyze checks the systemd units. Exports
# VOUCH_TEST_KUBERNETES_VALIDATE.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "    installing systemd (systemd-analyze verify checks the example units)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends systemd >/dev/null \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends systemd >/dev/null; }
fi
examples_venv="${VOUCH_REPO:-$PWD}/.venv/examples"
if ! "$examples_venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
  echo "    creating $examples_venv (kubernetes-validate)"
  python3 -m venv "$examples_venv"
  "$examples_venv/bin/pip" install -q 'kubernetes-validate==1.37.0'
fi
"$examples_venv/bin/kubernetes-validate" --version >/dev/null 2>&1 \
  || { echo "error: $examples_venv lacks kubernetes-validate" >&2; return 1 2>/dev/null || exit 1; }
export VOUCH_TEST_KUBERNETES_VALIDATE="$examples_venv/bin/kubernetes-validate"
