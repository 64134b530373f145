# shellcheck shell=bash
# moto's server: the AWS API emulator the aws.s3/kms/cloudtrail/logs/iam/guardduty/wafv2 probe
# tests talk to (tests/it/aws.rs, tests/it/aws_audit.rs). Sourced by scripts/test; exports
# VOUCH_TEST_MOTO_URL.
#
# Pinned: moto 5.1+ answers GetBucketVersioning with a <GetBucketVersioningResponse> root, which
# the Rust SDK (rightly, per the S3 API reference) refuses; 5.0.28 answers <VersioningConfiguration>.
# shellcheck disable=SC1091
source "${VOUCH_REPO:-$PWD}/scripts/lib/moto.sh"
start_moto 5.0.28 "${VOUCH_REPO:-$PWD}/.venv/moto" VOUCH_TEST_MOTO_URL
