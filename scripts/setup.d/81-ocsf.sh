# shellcheck shell=bash
# OCSF tests (tests/it/formats.rs): every `--format ocsf` record is parsed by the OCSF models of
# PyPI's py-ocsf-models (pydantic) as a Compliance Finding, in a venv under .venv/ocsf. Sourced by
# scripts/test; idempotent and quick when installed. Exports VOUCH_TEST_OCSF_PYTHON.
ocsf_venv="${VOUCH_REPO:-$PWD}/.venv/ocsf"
ocsf_check='from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding'
if ! "$ocsf_venv/bin/python3" -c "$ocsf_check" >/dev/null 2>&1; then
  echo "    creating $ocsf_venv (py-ocsf-models)"
  python3 -m venv "$ocsf_venv"
  "$ocsf_venv/bin/pip" install -q 'py-ocsf-models==0.10.0'
fi
"$ocsf_venv/bin/python3" -c "$ocsf_check" \
  || { echo "error: $ocsf_venv lacks py-ocsf-models" >&2; return 1 2>/dev/null || exit 1; }
export VOUCH_TEST_OCSF_PYTHON="$ocsf_venv/bin/python3"
