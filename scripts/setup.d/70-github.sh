# shellcheck shell=bash
# GitHub's published REST API description (npm package @octokit/openapi, pinned), for the github
# probe's tests (tests/it/github.rs): every body the loopback GitHub stand-in serves is validated
# against its schemas. Sourced by scripts/test; idempotent (quick once installed); exports
# VOUCH_TEST_GITHUB_OPENAPI, the path of api.github.com.json.
_gh_openapi_version="23.0.2"
_gh_openapi_dir="${VOUCH_REPO:-$PWD}/.venv/octokit-openapi-${_gh_openapi_version}"
_gh_openapi_file="$_gh_openapi_dir/node_modules/@octokit/openapi/generated/api.github.com.json"
if [ ! -s "$_gh_openapi_file" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing npm for the GitHub API description"
    apt-get update -qq && apt-get install -y -qq npm >/dev/null
  fi
  echo "installing @octokit/openapi@${_gh_openapi_version} (GitHub's REST API description)"
  mkdir -p "$_gh_openapi_dir"
  npm install --prefix "$_gh_openapi_dir" --no-save --no-audit --no-fund --silent \
    "@octokit/openapi@${_gh_openapi_version}" >/dev/null
fi
if [ -s "$_gh_openapi_file" ]; then
  export VOUCH_TEST_GITHUB_OPENAPI="$_gh_openapi_file"
fi
unset _gh_openapi_version _gh_openapi_dir _gh_openapi_file
