# shellcheck shell=bash
# A second moto server, of a newer release, for the resilience probe tests
# (tests/it/aws_resilience.rs: aws.backup, aws.rds, aws.dynamodb) and the demo estate. Sourced by
# scripts/test and scripts/demo; exports VOUCH_TEST_MOTO_RESILIENCE_URL.
#
# Why not the server 30-moto.sh starts: that one is pinned to 5.0.28 for S3 (see there), and
# 5.0.28 lacks what these probes read: RDS LatestRestorableTime, DynamoDB
# RecoveryPeriodInDays, Backup DescribeBackupVault and Vault Lock. 5.2.5 has all four.
# shellcheck disable=SC1091
source "${VOUCH_REPO:-$PWD}/scripts/lib/moto.sh"
start_moto 5.2.5 "${VOUCH_REPO:-$PWD}/.venv/moto-resilience" VOUCH_TEST_MOTO_RESILIENCE_URL
