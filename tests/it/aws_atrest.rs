//! Encryption at rest where it is not the default, certificates and secrets: `aws.ec2` (EBS
//! encryption by default, volumes, snapshots), `aws.rds` snapshots, `aws.efs`, `aws.acm`,
//! `aws.secretsmanager`.
//!
//! - moto's server, release 5.2.5 (`VOUCH_TEST_MOTO_RESILIENCE_URL`), seeded here through the
//!   SDK, for what it implements (docs/testing.md names the gaps).
//! - the SDK's replay client, with responses written from the AWS API reference, for what moto
//!   lacks: paging of DescribeVolumes / DescribeSnapshots / ListCertificates /
//!   DescribeDBSnapshots, GetEbsDefaultKmsKeyId, certificates in use, old rotation dates, and
//!   AccessDenied on one call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use vouch::inventory::Inventory;
use vouch::probe::aws::acm::AcmProbe;
use vouch::probe::aws::ec2::Ec2Probe;
use vouch::probe::aws::efs::EfsProbe;
use vouch::probe::aws::rds::RdsProbe;
use vouch::probe::aws::secretsmanager::SecretsManagerProbe;
use vouch::probe::aws::{Aws, AwsOverrides};
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeErrorKind, ProbeOptions};

use crate::support;

const ACCOUNT: &str = "111122223333";
const PRINCIPAL: &str = "arn:aws:iam::111122223333:user/auditor";
/// moto's default account.
const MOTO_ACCOUNT: &str = "123456789012";

// ---------------------------------------------------------------------------------------------
// Shared helpers

fn test_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "vouch-tests",
    ))
}

fn ctx_for(region: &str, endpoint: Option<&str>, regions: Option<&[&str]>) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.aws.region = Some(region.into());
    inv.aws.endpoint_url = endpoint.map(str::to_string);
    inv.aws.regions = regions.map(|r| r.iter().map(|s| s.to_string()).collect());
    ProbeContext::new(Arc::new(inv), ProbeOptions::default())
}

async fn observe(probe: &dyn Probe, target: &str, ctx: &ProbeContext) -> Observation {
    let obs = probe
        .observe(target, &Params::new(), ctx)
        .await
        .unwrap_or_else(|e| panic!("observe {target}: {e}"));
    support::assert_iam_policy_allows(&serde_json::to_value(&obs.evidence).unwrap());
    obs
}

fn fact<'a>(obs: &'a Observation, path: &str) -> &'a Value {
    obs.facts.get(path).unwrap_or_else(|| {
        panic!(
            "fact {path} not observed ({:?}); facts: {:#?}",
            obs.unobserved.get(path),
            obs.facts
        )
    })
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{nanos:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn moto_url() -> String {
    support::require(
        std::env::var("VOUCH_TEST_MOTO_RESILIENCE_URL").ok(),
        "moto's server 5.2.5 (VOUCH_TEST_MOTO_RESILIENCE_URL)",
        "source scripts/setup.d/31-moto-resilience.sh",
    )
}

fn moto_aws() -> Arc<Aws> {
    Aws::with_overrides(AwsOverrides {
        credentials: Some(test_credentials()),
        ..AwsOverrides::default()
    })
}

async fn seed_config(url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(test_credentials())
        .load()
        .await
}

// ---------------------------------------------------------------------------------------------
// moto: seeding

/// A volume, and a snapshot of it; returns (volume id, snapshot id).
async fn volume_and_snapshot(
    ec2: &aws_sdk_ec2::Client,
    az: &str,
    kms_key: Option<&str>,
) -> (String, String) {
    let vol = ec2
        .create_volume()
        .availability_zone(az)
        .size(1)
        .set_encrypted(kms_key.map(|_| true))
        .set_kms_key_id(kms_key.map(str::to_string))
        .send()
        .await
        .unwrap()
        .volume_id
        .unwrap();
    let snap = ec2
        .create_snapshot()
        .volume_id(&vol)
        .send()
        .await
        .unwrap()
        .snapshot_id
        .unwrap();
    (vol, snap)
}

async fn make_public(ec2: &aws_sdk_ec2::Client, snap: &str) {
    ec2.modify_snapshot_attribute()
        .snapshot_id(snap)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .group_names("all")
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// moto: aws.ec2

#[tokio::test]
async fn ec2_volumes_snapshots_and_ebs_default_on_moto() {
    let url = moto_url();
    // Regions of this test's own: the EBS default is one switch per region.
    let (on, off) = ("eu-north-1", "ap-southeast-1");
    let cfg = seed_config(&url, on).await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    ec2.enable_ebs_encryption_by_default().send().await.unwrap();
    let key = "arn:aws:kms:eu-north-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    // Encryption by default would encrypt the plain one too: create it where it is off.
    let (good_vol, good_snap) = volume_and_snapshot(&ec2, "eu-north-1a", Some(key)).await;
    let ec2_off = aws_sdk_ec2::Client::new(&seed_config(&url, off).await);
    let (bad_vol, bad_snap) = volume_and_snapshot(&ec2_off, "ap-southeast-1a", None).await;
    make_public(&ec2_off, &bad_snap).await;
    ec2_off
        .modify_snapshot_attribute()
        .snapshot_id(&bad_snap)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .user_ids("444455556666")
        .send()
        .await
        .unwrap();

    let probe = Ec2Probe::new(moto_aws());
    let ctx = ctx_for(on, Some(&url), Some(&[on, off]));

    let obs = observe(&probe, &format!("ebs-default:{on}"), &ctx).await;
    assert_eq!(fact(&obs, "kind"), "ebs-default");
    assert_eq!(fact(&obs, "ebs.encryption_by_default"), true);
    let obs = observe(&probe, &format!("ebs-default:{off}"), &ctx).await;
    assert_eq!(fact(&obs, "ebs.encryption_by_default"), false);
    // moto 5.2.5 has no GetEbsDefaultKmsKeyId: that fact alone is unobserved, never guessed.
    assert!(
        obs.unobserved.contains_key("ebs.default_kms_key_id"),
        "{obs:#?}"
    );

    let obs = observe(&probe, &good_vol, &ctx).await;
    assert_eq!(fact(&obs, "kind"), "volume");
    assert_eq!(fact(&obs, "encrypted"), true);
    assert_eq!(fact(&obs, "kms_key_id"), key);
    let obs = observe(&probe, &good_snap, &ctx).await;
    assert_eq!(fact(&obs, "kind"), "snapshot");
    assert_eq!(fact(&obs, "encrypted"), true);
    assert_eq!(fact(&obs, "public"), false);
    assert_eq!(fact(&obs, "shared_with"), &json!([]));

    // Outside the home region, by ARN.
    let bad_vol_arn = format!("arn:aws:ec2:{off}:{MOTO_ACCOUNT}:volume/{bad_vol}");
    let obs = observe(&probe, &bad_vol_arn, &ctx).await;
    assert_eq!(fact(&obs, "encrypted"), false);
    assert_eq!(fact(&obs, "kms_key_id"), &Value::Null);
    let bad_snap_arn = format!("arn:aws:ec2:{off}::snapshot/{bad_snap}");
    let obs = observe(&probe, &bad_snap_arn, &ctx).await;
    assert_eq!(fact(&obs, "encrypted"), false);
    assert_eq!(fact(&obs, "public"), true);
    assert_eq!(fact(&obs, "shared_with"), &json!(["444455556666"]));
    assert_eq!(obs.evidence["snapshot"]["volume_id"], bad_vol.as_str());

    // A volume that does not exist is an error naming it, never a pass.
    let err = probe
        .observe("vol-0000000000000dead", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::NotFound, "{err}");

    // `*`: every volume and owned snapshot of both regions, far ones by ARN.
    let all = probe.discover("*", &ctx).await.unwrap();
    for t in [&good_vol, &good_snap, &bad_vol_arn] {
        assert!(all.contains(t), "{t} missing from {all:?}");
    }
    assert!(
        all.contains(&format!(
            "arn:aws:ec2:{off}:{MOTO_ACCOUNT}:snapshot/{bad_snap}"
        )),
        "{all:?}"
    );
    let regions = probe.discover("ebs-default:*", &ctx).await.unwrap();
    assert_eq!(
        regions,
        [format!("ebs-default:{on}"), format!("ebs-default:{off}")]
    );
    let info = &ctx.run_info()[&format!("aws.ec2.discovery.{on}")];
    assert!(info["volumes"].as_u64().unwrap() >= 1, "{info}");
}

// ---------------------------------------------------------------------------------------------
// moto: aws.rds snapshots

#[tokio::test]
async fn rds_snapshots_on_moto_report_encryption_and_public_restore() {
    let url = moto_url();
    let region = "eu-west-1";
    let cfg = seed_config(&url, region).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let key = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    let enc_db = unique("snap-enc");
    let plain_db = unique("snap-plain");
    for (id, encrypted) in [(&enc_db, true), (&plain_db, false)] {
        rds.create_db_instance()
            .db_instance_identifier(id)
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin_user")
            .master_user_password("correct-horse-battery")
            .storage_encrypted(encrypted)
            .set_kms_key_id(encrypted.then(|| key.to_string()))
            .send()
            .await
            .unwrap();
    }
    let good = unique("good-snap");
    let bad = unique("public-snap");
    rds.create_db_snapshot()
        .db_instance_identifier(&enc_db)
        .db_snapshot_identifier(&good)
        .send()
        .await
        .unwrap();
    rds.create_db_snapshot()
        .db_instance_identifier(&plain_db)
        .db_snapshot_identifier(&bad)
        .send()
        .await
        .unwrap();
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier(&bad)
        .attribute_name("restore")
        .values_to_add("all")
        .values_to_add("444455556666")
        .send()
        .await
        .unwrap();
    let cluster = unique("snap-cluster");
    rds.create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("admin_user")
        .master_user_password("correct-horse-battery")
        .storage_encrypted(true)
        .kms_key_id(key)
        .send()
        .await
        .unwrap();
    let csnap = unique("cluster-snap");
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier(&cluster)
        .db_cluster_snapshot_identifier(&csnap)
        .send()
        .await
        .unwrap();

    let probe = RdsProbe::new(moto_aws());
    let ctx = ctx_for(region, Some(&url), None);
    let obs = observe(&probe, &format!("snapshot:{good}"), &ctx).await;
    assert_eq!(fact(&obs, "kind"), "snapshot");
    assert_eq!(fact(&obs, "encrypted"), true);
    assert_eq!(fact(&obs, "kms_key_id"), key);
    assert_eq!(fact(&obs, "public"), false);
    assert_eq!(fact(&obs, "snapshot_type"), "manual");
    let obs = observe(&probe, &format!("snapshot:{bad}"), &ctx).await;
    assert_eq!(fact(&obs, "encrypted"), false);
    assert_eq!(fact(&obs, "kms_key_id"), &Value::Null);
    assert_eq!(fact(&obs, "public"), true);
    assert_eq!(fact(&obs, "shared_with"), &json!(["444455556666"]));
    let arn = format!("arn:aws:rds:{region}:{MOTO_ACCOUNT}:cluster-snapshot:{csnap}");
    let obs = observe(&probe, &arn, &ctx).await;
    assert_eq!(fact(&obs, "kind"), "cluster-snapshot");
    assert_eq!(fact(&obs, "encrypted"), true);
    assert_eq!(fact(&obs, "public"), false);

    let err = probe
        .observe("snapshot:no-such-snapshot", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::NotFound, "{err}");

    let snaps = probe.discover("snapshot:*", &ctx).await.unwrap();
    assert!(snaps.contains(&format!("snapshot:{good}")), "{snaps:?}");
    assert!(snaps.contains(&format!("snapshot:{bad}")), "{snaps:?}");
    assert!(
        snaps.iter().all(|t| t.starts_with("snapshot:")),
        "{snaps:?}"
    );
    let csnaps = probe.discover("cluster-snapshot:*", &ctx).await.unwrap();
    assert!(
        csnaps.contains(&format!("cluster-snapshot:{csnap}")),
        "{csnaps:?}"
    );
    // The databases' own `*` is unchanged: no snapshot in it.
    let dbs = probe.discover("*", &ctx).await.unwrap();
    assert!(dbs.iter().all(|t| !t.contains("snapshot")), "{dbs:?}");
}

// ---------------------------------------------------------------------------------------------
// moto: aws.efs

#[tokio::test]
async fn efs_on_moto_reports_encryption_and_discovers_every_page() {
    let url = moto_url();
    let region = "eu-west-1";
    let efs = aws_sdk_efs::Client::new(&seed_config(&url, region).await);
    let key = "arn:aws:kms:eu-west-1:123456789012:key/12121212-3434-5656-7878-909090909090";
    let mut created = Vec::new();
    for (token, encrypted) in [
        (unique("efs-enc"), true),
        (unique("efs-plain"), false),
        (unique("efs-enc2"), true),
    ] {
        let out = efs
            .create_file_system()
            .creation_token(&token)
            .encrypted(encrypted)
            .set_kms_key_id(encrypted.then(|| key.to_string()))
            .tags(
                aws_sdk_efs::types::Tag::builder()
                    .key("Name")
                    .value(&token)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        created.push((out.file_system_id, encrypted, token));
    }
    let probe = EfsProbe::new(moto_aws()).with_page_size(1);
    let ctx = ctx_for(region, Some(&url), None);
    for (id, encrypted, token) in &created {
        let obs = observe(&probe, id, &ctx).await;
        assert_eq!(fact(&obs, "encrypted"), encrypted, "{id}");
        assert_eq!(fact(&obs, "name"), token.as_str());
        if *encrypted {
            assert_eq!(fact(&obs, "kms_key_id"), key);
        } else {
            assert_eq!(fact(&obs, "kms_key_id"), &Value::Null);
        }
        assert_eq!(
            obs.evidence["file_system"]["creation_token"],
            token.as_str()
        );
    }
    let all = probe.discover("*", &ctx).await.unwrap();
    for (id, ..) in &created {
        assert!(all.contains(id), "{id} missing from {all:?}");
    }
    let info = &ctx.run_info()[&format!("aws.efs.discovery.{region}")];
    let pages = info["api_calls"]
        .to_string()
        .matches("DescribeFileSystems")
        .count();
    assert!(pages >= 3, "one file system per page: {info}");
    let err = probe
        .observe("fs-00000000", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::NotFound, "{err}");
}

// ---------------------------------------------------------------------------------------------
// moto: aws.acm

/// A self-signed certificate (ECDSA P-256, not RSA-2048) valid from a day ago for `days`.
fn cert_valid_for(days: i64, name: &str) -> (String, String) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn acm_on_moto_reads_expiry_type_and_finds_ecdsa_certificates() {
    let url = moto_url();
    let region = "us-east-1";
    let acm = aws_sdk_acm::Client::new(&seed_config(&url, region).await);
    let mut arns = BTreeMap::new();
    for days in [10i64, 200] {
        let (cert, key) = cert_valid_for(days, &format!("{}.example.com", unique("acm")));
        let arn = acm
            .import_certificate()
            .certificate(aws_smithy_types::Blob::new(cert))
            .private_key(aws_smithy_types::Blob::new(key))
            .send()
            .await
            .unwrap()
            .certificate_arn
            .unwrap();
        arns.insert(days, arn);
    }
    let probe = AcmProbe::new(moto_aws());
    let ctx = ctx_for(region, Some(&url), None);
    for (days, arn) in &arns {
        let obs = observe(&probe, arn, &ctx).await;
        assert_eq!(fact(&obs, "type"), "IMPORTED");
        assert_eq!(fact(&obs, "status"), "ISSUED");
        let left = fact(&obs, "days_remaining").as_i64().unwrap();
        assert!(left == days - 1 || left == *days, "{days}: {left}");
        assert!(fact(&obs, "not_after").as_str().unwrap().ends_with('Z'));
        assert_eq!(fact(&obs, "in_use"), false);
        assert_eq!(fact(&obs, "renewal_eligibility"), "INELIGIBLE");
    }
    // ListCertificates lists RSA-2048 only unless asked for other key types: both ECDSA
    // certificates are found because every key type is asked for.
    let all = probe.discover("*", &ctx).await.unwrap();
    for arn in arns.values() {
        assert!(all.contains(arn), "{arn} missing from {all:?}");
    }
    let info = &ctx.run_info()[&format!("aws.acm.discovery.{region}")];
    assert!(info["certificates"].as_u64().unwrap() >= 2, "{info}");
}

// ---------------------------------------------------------------------------------------------
// moto: aws.secretsmanager

#[tokio::test]
async fn secretsmanager_on_moto_reads_rotation_and_key_over_every_page() {
    let url = moto_url();
    let region = "eu-west-1";
    let sm = aws_sdk_secretsmanager::Client::new(&seed_config(&url, region).await);
    let rotated = unique("prod/db");
    let stale = unique("prod/api");
    let key = "arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555";
    sm.create_secret()
        .name(&rotated)
        .secret_string("s3cr3t-value-never-read")
        .kms_key_id(key)
        .send()
        .await
        .unwrap();
    sm.create_secret()
        .name(&stale)
        .secret_string("another-value")
        .send()
        .await
        .unwrap();
    sm.rotate_secret()
        .secret_id(&rotated)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let probe = SecretsManagerProbe::new(moto_aws()).with_page_size(1);
    let ctx = ctx_for(region, Some(&url), None);
    let obs = observe(&probe, &rotated, &ctx).await;
    assert_eq!(fact(&obs, "rotation.enabled"), true);
    assert!(fact(&obs, "rotation.last_rotated").is_string());
    assert_eq!(fact(&obs, "rotation.age_days"), 0);
    assert_eq!(fact(&obs, "rotation.interval_days"), 30);
    assert_eq!(fact(&obs, "kms_key_id"), key);
    assert_eq!(fact(&obs, "deleted"), false);
    let text = serde_json::to_string(&obs).unwrap();
    assert!(
        !text.contains("s3cr3t-value-never-read"),
        "the value never reaches evidence"
    );
    let obs = observe(&probe, &stale, &ctx).await;
    assert_eq!(fact(&obs, "rotation.enabled"), false);
    assert_eq!(fact(&obs, "rotation.last_rotated"), &Value::Null);
    assert_eq!(
        fact(&obs, "rotation.age_days"),
        0,
        "never rotated: counted from creation"
    );
    assert_eq!(fact(&obs, "kms_key_id"), &Value::Null);

    let all = probe.discover("*", &ctx).await.unwrap();
    assert!(all.contains(&rotated) && all.contains(&stale), "{all:?}");
    let info = &ctx.run_info()[&format!("aws.secretsmanager.discovery.{region}")];
    assert!(
        info["api_calls"].to_string().matches("ListSecrets").count() >= 2,
        "one secret per page: {info}"
    );
}

// ---------------------------------------------------------------------------------------------
// moto: vouch check of the built-in controls

#[test]
fn vouch_check_on_moto_passes_and_fails_exactly_the_seeded_at_rest_resources() {
    let url = moto_url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A region no other test uses, so `*` holds only what this test seeds there.
    let (home, off) = ("us-west-1", "sa-east-1");
    let key = "arn:aws:kms:us-west-1:123456789012:key/abababab-cdcd-efef-0101-232323232323";
    let seeded = rt.block_on(async {
        let cfg = seed_config(&url, home).await;
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        ec2.enable_ebs_encryption_by_default().send().await.unwrap();
        let (good_vol, good_snap) = volume_and_snapshot(&ec2, "us-west-1a", Some(key)).await;
        let (_, public_snap) = volume_and_snapshot(&ec2, "us-west-1a", Some(key)).await;
        make_public(&ec2, &public_snap).await;
        let ec2_off = aws_sdk_ec2::Client::new(&seed_config(&url, off).await);
        let (bad_vol, bad_snap) = volume_and_snapshot(&ec2_off, "sa-east-1a", None).await;

        let efs = aws_sdk_efs::Client::new(&cfg);
        let mut fs = Vec::new();
        for encrypted in [true, false] {
            fs.push(
                efs.create_file_system()
                    .creation_token(unique("e2e-efs"))
                    .encrypted(encrypted)
                    .send()
                    .await
                    .unwrap()
                    .file_system_id,
            );
        }
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let rotated = unique("e2e/rotated");
        let never = unique("e2e/never");
        for name in [&rotated, &never] {
            sm.create_secret()
                .name(name)
                .secret_string("x")
                .send()
                .await
                .unwrap();
        }
        sm.rotate_secret()
            .secret_id(&rotated)
            .rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .automatically_after_days(30)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let rds = aws_sdk_rds::Client::new(&cfg);
        let mut snaps = Vec::new();
        for encrypted in [true, false] {
            let db = unique("e2e-db");
            rds.create_db_instance()
                .db_instance_identifier(&db)
                .engine("postgres")
                .db_instance_class("db.t3.micro")
                .allocated_storage(20)
                .master_username("admin_user")
                .master_user_password("correct-horse-battery")
                .storage_encrypted(encrypted)
                .set_kms_key_id(encrypted.then(|| key.to_string()))
                .send()
                .await
                .unwrap();
            let snap = unique("e2e-snap");
            rds.create_db_snapshot()
                .db_instance_identifier(&db)
                .db_snapshot_identifier(&snap)
                .send()
                .await
                .unwrap();
            snaps.push(snap);
        }
        (
            [good_vol, good_snap, public_snap, bad_vol, bad_snap],
            fs,
            [rotated, never],
            snaps,
        )
    });
    let ([good_vol, good_snap, public_snap, bad_vol, bad_snap], fs, [rotated, never], snaps) =
        seeded;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!(
            "[targets]\naws_ebs_defaults = [\"ebs-default:*\"]\naws_block_storage = [\"*\"]\n\
             aws_db_snapshots = [\"snapshot:*\", \"cluster-snapshot:*\"]\n\
             aws_file_systems = [\"*\"]\naws_secrets = [\"*\"]\n\n\
             [aws]\nregion = \"{home}\"\nregions = [\"{home}\", \"{off}\"]\nendpoint_url = \"{url}\"\n"
        ),
    )
    .unwrap();
    let out = support::vouch()
        .args(["check", "--inventory"])
        .arg(dir.path().join("vouch.toml"))
        .args(["--format", "json"])
        .args(["--only", "ENC-REST-EBS-DEFAULT", "--only", "ENC-REST-EBS"])
        .args([
            "--only",
            "ENC-REST-EBS-SNAPSHOTS-PRIVATE",
            "--only",
            "ENC-REST-EFS",
        ])
        .args([
            "--only",
            "ENC-REST-DB-SNAPSHOTS",
            "--only",
            "KEY-SECRET-ROTATION",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(out.status.code(), Some(1), "something fails");
    support::assert_iam_policy_allows(&report);

    let v = support::verdicts(&report, "ENC-REST-EBS-DEFAULT");
    assert_eq!(v[&format!("ebs-default:{home}")], "pass");
    assert_eq!(v[&format!("ebs-default:{off}")], "fail");
    let bad_vol_arn = format!("arn:aws:ec2:{off}:{MOTO_ACCOUNT}:volume/{bad_vol}");
    let bad_snap_arn = format!("arn:aws:ec2:{off}:{MOTO_ACCOUNT}:snapshot/{bad_snap}");
    let v = support::verdicts(&report, "ENC-REST-EBS");
    assert_eq!(v[&good_vol], "pass");
    assert_eq!(v[&good_snap], "pass");
    assert_eq!(v[&bad_vol_arn], "fail");
    assert_eq!(v[&bad_snap_arn], "fail");
    let v = support::verdicts(&report, "ENC-REST-EBS-SNAPSHOTS-PRIVATE");
    assert_eq!(v[&good_snap], "pass");
    assert_eq!(v[&public_snap], "fail");
    assert_eq!(v[&good_vol], "n/a", "a volume is outside its where");
    let v = support::verdicts(&report, "ENC-REST-EFS");
    assert_eq!(v[&fs[0]], "pass");
    assert_eq!(v[&fs[1]], "fail");
    let v = support::verdicts(&report, "ENC-REST-DB-SNAPSHOTS");
    assert_eq!(v[&format!("snapshot:{}", snaps[0])], "pass");
    assert_eq!(v[&format!("snapshot:{}", snaps[1])], "fail");
    let v = support::verdicts(&report, "KEY-SECRET-ROTATION");
    assert_eq!(v[&rotated], "pass");
    assert_eq!(v[&never], "fail");
}

// ---------------------------------------------------------------------------------------------
// Replayed responses (the SDK's StaticReplayClient)

fn event(uri: &str, status: u16, content_type: &str, body: String) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri(uri)
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("x-amzn-requestid", unique("req"))
            .body(SdkBody::from(body))
            .unwrap(),
    )
}

fn sts_identity() -> ReplayEvent {
    event(
        "https://sts.eu-west-1.amazonaws.com/",
        200,
        "text/xml",
        format!(
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>{PRINCIPAL}</Arn>
    <UserId>AIDAEXAMPLEAUDITOR</UserId>
    <Account>{ACCOUNT}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#
        ),
    )
}

fn replay(events: Vec<ReplayEvent>) -> (Arc<Aws>, StaticReplayClient, ProbeContext) {
    let mut all = vec![sts_identity()];
    all.extend(events);
    let client = StaticReplayClient::new(all);
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(test_credentials()),
        http_client: Some(SharedHttpClient::new(client.clone())),
        retry: Some(
            RetryConfig::standard()
                .with_max_attempts(1)
                .with_initial_backoff(Duration::from_millis(1)),
        ),
    });
    (
        aws,
        client,
        ctx_for("eu-west-1", None, Some(&["eu-west-1"])),
    )
}

/// The form bodies the probe sent (query protocols), without the caller-identity call.
fn bodies(client: &StaticReplayClient) -> Vec<String> {
    client
        .actual_requests()
        .skip(1)
        .map(|r| String::from_utf8_lossy(r.body().bytes().unwrap_or_default()).to_string())
        .collect()
}

const EC2: &str = "https://ec2.eu-west-1.amazonaws.com/";
const EC2_NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

fn ec2_ok(action: &str, inner: &str) -> ReplayEvent {
    event(
        EC2,
        200,
        "text/xml;charset=UTF-8",
        format!(
            r#"<{action}Response xmlns="{EC2_NS}"><requestId>{}</requestId>{inner}</{action}Response>"#,
            unique("r")
        ),
    )
}

/// An EC2 error as EC2 sends it (`Response/Errors/Error`).
fn ec2_error(status: u16, code: &str) -> ReplayEvent {
    event(
        EC2,
        status,
        "text/xml;charset=UTF-8",
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>{}</RequestID></Response>",
            unique("r")
        ),
    )
}

fn volume_item(id: &str, encrypted: bool) -> String {
    format!(
        "<item><volumeId>{id}</volumeId><size>8</size><availabilityZone>eu-west-1a</availabilityZone><status>in-use</status><encrypted>{encrypted}</encrypted>{}<volumeType>gp3</volumeType></item>",
        if encrypted {
            "<kmsKeyId>arn:aws:kms:eu-west-1:111122223333:key/k1</kmsKeyId>"
        } else {
            ""
        }
    )
}

fn snapshot_item(id: &str, owner: &str, encrypted: bool) -> String {
    format!(
        "<item><snapshotId>{id}</snapshotId><volumeId>vol-0aaa</volumeId><status>completed</status><ownerId>{owner}</ownerId><volumeSize>8</volumeSize><encrypted>{encrypted}</encrypted></item>"
    )
}

#[tokio::test]
async fn ec2_discovery_reads_every_page_of_volumes_and_owned_snapshots() {
    let (aws, client, ctx) = replay(vec![
        ec2_ok(
            "DescribeVolumes",
            &format!(
                "<volumeSet>{}{}</volumeSet><nextToken>vp2</nextToken>",
                volume_item("vol-01", true),
                volume_item("vol-02", false)
            ),
        ),
        ec2_ok(
            "DescribeVolumes",
            &format!("<volumeSet>{}</volumeSet>", volume_item("vol-03", true)),
        ),
        ec2_ok(
            "DescribeSnapshots",
            &format!(
                "<snapshotSet>{}</snapshotSet><nextToken>sp2</nextToken>",
                snapshot_item("snap-01", ACCOUNT, true)
            ),
        ),
        ec2_ok(
            "DescribeSnapshots",
            &format!(
                "<snapshotSet>{}{}</snapshotSet>",
                snapshot_item("snap-02", ACCOUNT, false),
                // Another owner's snapshot, should the server ignore OwnerIds=self.
                snapshot_item("snap-99", "999999999999", false)
            ),
        ),
    ]);
    let probe = Ec2Probe::new(aws).with_page_size(5);
    let all = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(all, ["vol-01", "vol-02", "vol-03", "snap-01", "snap-02"]);
    let sent = bodies(&client);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[1].contains("NextToken=vp2"), "{}", sent[1]);
    assert!(sent[2].contains("Owner.1=self"), "{}", sent[2]);
    assert!(sent[3].contains("NextToken=sp2"), "{}", sent[3]);
    let info = &ctx.run_info()["aws.ec2.discovery.eu-west-1"];
    assert_eq!(info["snapshots_of_other_owners_skipped"], 1);
}

#[tokio::test]
async fn ec2_access_denied_on_the_snapshot_attribute_leaves_only_public_unobserved() {
    let (aws, _client, ctx) = replay(vec![
        ec2_ok(
            "DescribeSnapshots",
            &format!(
                "<snapshotSet>{}</snapshotSet>",
                snapshot_item("snap-01", ACCOUNT, true)
            ),
        ),
        ec2_error(403, "UnauthorizedOperation"),
    ]);
    let probe = Ec2Probe::new(aws);
    let obs = observe(&probe, "snap-01", &ctx).await;
    assert_eq!(fact(&obs, "encrypted"), true);
    for f in ["public", "shared_with"] {
        let why = &obs.unobserved[f];
        assert!(why.contains("ec2:DescribeSnapshotAttribute"), "{why}");
        assert!(why.contains(PRINCIPAL), "{why}");
    }
    // Not observed is not false: a check on `public` is then an `error`, never a pass.
    assert!(!obs.facts.contains_key("public"));
}

#[tokio::test]
async fn ec2_ebs_default_key_and_denied_setting() {
    // The key id, which moto does not implement, from the API reference's shape.
    let (aws, _client, ctx) = replay(vec![
        ec2_ok(
            "GetEbsEncryptionByDefault",
            "<ebsEncryptionByDefault>true</ebsEncryptionByDefault>",
        ),
        ec2_ok(
            "GetEbsDefaultKmsKeyId",
            "<kmsKeyId>arn:aws:kms:eu-west-1:111122223333:key/cmk-1</kmsKeyId>",
        ),
    ]);
    let probe = Ec2Probe::new(aws);
    let obs = observe(&probe, "ebs-default:eu-west-1", &ctx).await;
    assert_eq!(fact(&obs, "ebs.encryption_by_default"), true);
    assert_eq!(
        fact(&obs, "ebs.default_kms_key_id"),
        "arn:aws:kms:eu-west-1:111122223333:key/cmk-1"
    );
    // The setting itself denied: the observation is an error, never a pass.
    let (aws, _client, ctx) = replay(vec![ec2_error(403, "UnauthorizedOperation")]);
    let err = Ec2Probe::new(aws)
        .observe("ebs-default:eu-west-1", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied, "{err}");
    assert!(
        err.to_string().contains("GetEbsEncryptionByDefault"),
        "{err}"
    );
}

const JSON11: &str = "application/x-amz-json-1.1";

fn json_ok(host: &str, body: Value) -> ReplayEvent {
    event(host, 200, JSON11, body.to_string())
}

fn json_error(host: &str, status: u16, code: &str) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri(host)
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", JSON11)
            .header("x-amzn-requestid", unique("req"))
            .body(SdkBody::from(
                json!({"__type": code, "message": "User is not authorized to perform this action"})
                    .to_string(),
            ))
            .unwrap(),
    )
}

const ACM: &str = "https://acm.eu-west-1.amazonaws.com/";

fn cert_arn(n: u32) -> String {
    format!("arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0000000{n}-aaaa-bbbb-cccc-dddddddddddd")
}

#[tokio::test]
async fn acm_reads_every_page_and_a_certificate_in_use() {
    let now = jiff::Timestamp::now().as_second();
    let (aws, client, ctx) = replay(vec![
        json_ok(
            ACM,
            json!({"CertificateSummaryList": [{"CertificateArn": cert_arn(1)}], "NextToken": "p2"}),
        ),
        json_ok(
            ACM,
            json!({"CertificateSummaryList": [{"CertificateArn": cert_arn(2)}]}),
        ),
        json_ok(
            ACM,
            json!({"Certificate": {
                "CertificateArn": cert_arn(2),
                "DomainName": "app.example.com",
                "Type": "AMAZON_ISSUED",
                "Status": "ISSUED",
                "NotAfter": now + 20 * 86_400 + 3_600,
                "InUseBy": ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1"],
                "RenewalEligibility": "ELIGIBLE",
                "RenewalSummary": {"RenewalStatus": "FAILED", "DomainValidationOptions": [], "UpdatedAt": now},
                "KeyAlgorithm": "RSA-2048"
            }}),
        ),
    ]);
    let probe = AcmProbe::new(aws);
    let all = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(all, [cert_arn(1), cert_arn(2)]);
    let obs = observe(&probe, &cert_arn(2), &ctx).await;
    assert_eq!(fact(&obs, "in_use"), true);
    assert_eq!(fact(&obs, "days_remaining"), 20);
    assert_eq!(fact(&obs, "type"), "AMAZON_ISSUED");
    assert_eq!(fact(&obs, "renewal_eligibility"), "ELIGIBLE");
    assert_eq!(fact(&obs, "renewal.status"), "FAILED");
    let sent = bodies(&client);
    assert!(sent[0].contains("keyTypes"), "{}", sent[0]);
    assert!(sent[1].contains("\"NextToken\":\"p2\""), "{}", sent[1]);
}

#[tokio::test]
async fn acm_access_denied_is_an_error_naming_the_action() {
    let (aws, _client, ctx) = replay(vec![json_error(ACM, 400, "AccessDeniedException")]);
    let err = AcmProbe::new(aws)
        .observe(&cert_arn(1), &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied, "{err}");
    assert!(err.to_string().contains("acm:DescribeCertificate"), "{err}");
}

const SM: &str = "https://secretsmanager.eu-west-1.amazonaws.com/";

#[tokio::test]
async fn secretsmanager_age_counts_from_the_last_rotation_and_denied_is_an_error() {
    let now = jiff::Timestamp::now().as_second();
    let (aws, _client, ctx) = replay(vec![json_ok(
        SM,
        json!({
            "ARN": format!("arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:prod/db-AbCdEf"),
            "Name": "prod/db",
            "RotationEnabled": true,
            "RotationRules": {"AutomaticallyAfterDays": 30},
            "LastRotatedDate": now - 200 * 86_400,
            "CreatedDate": now - 400 * 86_400,
            "KmsKeyId": "alias/prod-secrets"
        }),
    )]);
    let probe = SecretsManagerProbe::new(aws);
    let obs = observe(&probe, "prod/db", &ctx).await;
    assert_eq!(fact(&obs, "rotation.enabled"), true);
    assert_eq!(
        fact(&obs, "rotation.age_days"),
        200,
        "rotation on, but stalled"
    );
    assert_eq!(fact(&obs, "kms_key_id"), "alias/prod-secrets");

    let (aws, _client, ctx) = replay(vec![json_error(SM, 400, "AccessDeniedException")]);
    let err = SecretsManagerProbe::new(aws)
        .observe("prod/db", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied, "{err}");
    assert!(
        err.to_string().contains("secretsmanager:DescribeSecret"),
        "{err}"
    );
}

const RDS: &str = "https://rds.eu-west-1.amazonaws.com/";

fn rds_ok(action: &str, result: &str) -> ReplayEvent {
    event(
        RDS,
        200,
        "text/xml",
        format!(
            r#"<{action}Response xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>"#,
            unique("r")
        ),
    )
}

fn db_snapshot(id: &str, encrypted: bool) -> String {
    format!(
        "<DBSnapshot><DBSnapshotIdentifier>{id}</DBSnapshotIdentifier><DBInstanceIdentifier>prod</DBInstanceIdentifier><Engine>postgres</Engine><Status>available</Status><SnapshotType>manual</SnapshotType><Encrypted>{encrypted}</Encrypted><DBSnapshotArn>arn:aws:rds:eu-west-1:{ACCOUNT}:snapshot:{id}</DBSnapshotArn></DBSnapshot>"
    )
}

#[tokio::test]
async fn rds_snapshot_discovery_reads_every_page_and_denied_attributes_leave_public_unobserved() {
    let (aws, client, ctx) = replay(vec![
        rds_ok(
            "DescribeDBSnapshots",
            &format!(
                "<DBSnapshots>{}</DBSnapshots><Marker>m2</Marker>",
                db_snapshot("nightly-1", true)
            ),
        ),
        rds_ok(
            "DescribeDBSnapshots",
            &format!("<DBSnapshots>{}</DBSnapshots>", db_snapshot("nightly-2", false)),
        ),
        rds_ok(
            "DescribeDBSnapshots",
            &format!("<DBSnapshots>{}</DBSnapshots>", db_snapshot("nightly-2", false)),
        ),
        event(
            RDS,
            403,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized</Message></Error><RequestId>x</RequestId></ErrorResponse>".into(),
        ),
    ]);
    let probe = RdsProbe::new(aws);
    let all = probe.discover("snapshot:*", &ctx).await.unwrap();
    assert_eq!(all, ["snapshot:nightly-1", "snapshot:nightly-2"]);
    assert!(bodies(&client)[1].contains("Marker=m2"));
    let obs = observe(&probe, "snapshot:nightly-2", &ctx).await;
    assert_eq!(fact(&obs, "encrypted"), false);
    let why = &obs.unobserved["public"];
    assert!(why.contains("rds:DescribeDBSnapshotAttributes"), "{why}");
}

/// `vouch probe aws.ec2 '*' --format json`: one observation per volume and snapshot, each with
/// its recorded API responses, so a resource's Name tag is findable from the spot check.
#[test]
fn vouch_probe_star_gives_one_observation_per_resource_with_its_api_responses() {
    let url = moto_url();
    // A region of this test's own.
    let region = "eu-west-3";
    let name = unique("billing-data");
    let (vol, snap) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&seed_config(&url, region).await);
        let vol = ec2
            .create_volume()
            .availability_zone("eu-west-3a")
            .size(1)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Volume)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value(&name)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .volume_id
            .unwrap();
        let snap = ec2
            .create_snapshot()
            .volume_id(&vol)
            .send()
            .await
            .unwrap()
            .snapshot_id
            .unwrap();
        (vol, snap)
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!("[aws]\nregion = \"{region}\"\nendpoint_url = \"{url}\"\n"),
    )
    .unwrap();
    let out = support::vouch()
        .args(["probe", "aws.ec2", "*", "--format", "json", "--inventory"])
        .arg(dir.path().join("vouch.toml"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |target: &str| {
        all.iter()
            .find(|o| o["target"] == target)
            .unwrap_or_else(|| panic!("no observation of {target}"))
    };
    let v = find(&vol);
    assert_eq!(v["facts"]["kind"], "volume");
    assert_eq!(v["facts"]["encrypted"], false);
    let calls = v["evidence"]["api_calls"].to_string();
    assert!(
        calls.contains("ec2:DescribeVolumes") && calls.contains(&name),
        "{calls}"
    );
    let s = find(&snap);
    assert_eq!(s["facts"]["kind"], "snapshot");
    assert_eq!(s["facts"]["public"], false);
    assert_eq!(
        all.iter().filter(|o| o["target"] == vol.as_str()).count(),
        1,
        "one observation per resource"
    );
    support::assert_iam_policy_allows(&Value::Array(all.clone()));
}
