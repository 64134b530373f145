# shellcheck shell=bash
# SARIF tests (tests/it/formats.rs): the SARIF multitool (npm @microsoft/sarif-multitool, whose
# Linux package ships the self-contained .NET tool) validates `--format sarif` with GitHub code
# scanning's ingestion rules (`validate --rule-kind Gh`). Sourced by scripts/test; idempotent and
# quick when installed. Exports VOUCH_TEST_SARIF_MULTITOOL.
sarif_dir="${VOUCH_REPO:-$PWD}/.venv/sarif-multitool"
# The native tool itself: the npm wrapper passes its arguments through a shell, which splits the
# `;`-separated lists the tool takes (`--level "Error;Warning;Note"`).
sarif_bin="$sarif_dir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
if ! [ -x "$sarif_bin" ] || ! "$sarif_bin" --version >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "    installing nodejs and npm for the SARIF multitool"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
  fi
  echo "    installing @microsoft/sarif-multitool 5.7.0 into $sarif_dir"
  mkdir -p "$sarif_dir"
  npm install --silent --no-audit --no-fund --prefix "$sarif_dir" @microsoft/sarif-multitool@5.7.0 >/dev/null
fi
# The .NET tool needs ICU unless told to run invariant.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT="${DOTNET_SYSTEM_GLOBALIZATION_INVARIANT:-1}"
"$sarif_bin" --version >/dev/null 2>&1 \
  || { echo "error: $sarif_bin does not run" >&2; return 1 2>/dev/null || exit 1; }
export VOUCH_TEST_SARIF_MULTITOOL="$sarif_bin"
