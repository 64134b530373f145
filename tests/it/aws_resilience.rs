//! The resilience probes: `aws.backup`, `aws.rds`, `aws.dynamodb`.
//!
//! Two kinds of AWS on loopback, each for what it can show (docs/testing.md names every gap):
//!
//! - moto's server, release 5.2.5 (`scripts/setup.d/31-moto-resilience.sh`,
//!   `VOUCH_TEST_MOTO_RESILIENCE_URL`), seeded here through the SDK: RDS instances and Aurora
//!   clusters, DynamoDB continuous backups and encryption, Backup vaults and Vault Lock, and
//!   `vouch check` end to end.
//! - the SDK's own replay HTTP client (`aws-smithy-http-client` test-util `StaticReplayClient`)
//!   answering, in order, with bodies written from the AWS API reference, for what moto does
//!   not implement (Backup restore jobs, recovery points, protected resources, listing vaults
//!   to the Rust SDK, IAM, throttling, old restorable times). The real serialisers,
//!   deserialisers, retry strategy and vouch's error mapping run; only the socket is replaced.
//!   The probes make their calls one after another, so the order of requests is fixed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ScalarAttributeType, SseSpecification, SseType,
};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use vouch::engine::{self, EngineOptions};
use vouch::expect::parse_duration;
use vouch::inventory::Inventory;
use vouch::probe::aws::backup::BackupProbe;
use vouch::probe::aws::dynamodb::DynamoDbProbe;
use vouch::probe::aws::rds::RdsProbe;
use vouch::probe::aws::{Aws, AwsOverrides};
use vouch::probe::{
    Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, ProbeOptions, Registry,
};

use crate::support;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";
const PRINCIPAL: &str = "arn:aws:iam::111122223333:user/auditor";

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

fn ctx_for(region: &str, endpoint: Option<&str>) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.aws.region = Some(region.into());
    inv.aws.endpoint_url = endpoint.map(str::to_string);
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

async fn observe_err(probe: &dyn Probe, target: &str, ctx: &ProbeContext) -> ProbeError {
    match probe.observe(target, &Params::new(), ctx).await {
        Ok(obs) => panic!("observe {target} should fail, got {:#?}", obs.facts),
        Err(e) => e,
    }
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

/// Seconds of a duration fact (`"4m10s"`).
fn lag_secs(obs: &Observation, path: &str) -> u64 {
    parse_duration(fact(obs, path).as_str().expect("a duration string")).unwrap()
}

/// The failing check of `control` on `target`, as the table prints it.
fn detail(report: &Value, control: &str, target: &str) -> String {
    let c = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == control)
        .unwrap();
    let r = c["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target)
        .unwrap();
    r.to_string()
}

/// A registry of the three resilience probes; `aws` serves the one named `kind`.
fn registry_with(kind: &str, aws: Arc<Aws>) -> Registry {
    let pick = |k: &str| if k == kind { aws.clone() } else { Aws::new() };
    Registry::with(vec![
        Arc::new(BackupProbe::new(pick("aws.backup"))),
        Arc::new(RdsProbe::new(pick("aws.rds"))),
        Arc::new(DynamoDbProbe::new(pick("aws.dynamodb"))),
    ])
}

/// A vault-level restore rule, written for these tests: the shipped library judges restores
/// per protected resource (`BACKUP-RESTORE-TESTED` on `aws_protected`, tested below), so this
/// control exercises a vault's own restore facts through the engine, and is no copy of a
/// built-in.
const VAULT_RESTORED: &str = r#"
[[control]]
id = "TEST-VAULT-RESTORED"
title = "A restore from this vault completed in the last 92 days"
severity = "high"
probe = "aws.backup"
targets = "aws_vaults"
expect = [{ fact = "restore.last_completed", op = "within", value = "92d" }]
"#;

fn vault_restored() -> vouch::control::Control {
    let mut diags = vouch::diag::Diagnostics::new();
    let mut controls = vouch::control::load_controls(
        &[vouch::control::Source::Text {
            name: "vault-restored.toml".into(),
            text: VAULT_RESTORED.into(),
        }],
        &Registry::builtin(),
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render(false));
    controls.remove(0)
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{nanos:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn epoch_days_ago(days: f64) -> i64 {
    jiff::Timestamp::now().as_second() - (days * 86_400.0) as i64
}

// ---------------------------------------------------------------------------------------------
// moto

fn moto_url() -> String {
    support::require(
        std::env::var("VOUCH_TEST_MOTO_RESILIENCE_URL").ok(),
        "moto's server 5.2.5 (VOUCH_TEST_MOTO_RESILIENCE_URL)",
        "source scripts/setup.d/31-moto-resilience.sh",
    )
}

/// A factory whose only difference from production is where credentials come from.
fn moto_aws() -> Arc<Aws> {
    Aws::with_overrides(AwsOverrides {
        credentials: Some(test_credentials()),
        ..AwsOverrides::default()
    })
}

/// SDK config for seeding moto (the test's own admin clients).
async fn seed_config(url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(test_credentials())
        .load()
        .await
}

struct Db<'a> {
    id: &'a str,
    multi_az: bool,
    public: bool,
    encrypted: bool,
    retention: i32,
    deletion_protection: bool,
}

async fn create_instance(rds: &aws_sdk_rds::Client, db: Db<'_>) {
    rds.create_db_instance()
        .db_instance_identifier(db.id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("admin_user")
        .master_user_password("not-a-real-password")
        .multi_az(db.multi_az)
        .publicly_accessible(db.public)
        .storage_encrypted(db.encrypted)
        .backup_retention_period(db.retention)
        .deletion_protection(db.deletion_protection)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {}: {e:?}", db.id));
}

/// An Aurora cluster with one member instance per `(availability zone, public)`.
async fn create_cluster(rds: &aws_sdk_rds::Client, id: &str, members: &[(&str, bool)]) {
    rds.create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .master_username("admin_user")
        .master_user_password("not-a-real-password")
        .storage_encrypted(true)
        .backup_retention_period(14)
        .deletion_protection(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create cluster {id}: {e:?}"));
    for (i, (az, public)) in members.iter().enumerate() {
        rds.create_db_instance()
            .db_instance_identifier(format!("{id}-{i}"))
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .db_instance_class("db.r6g.large")
            .availability_zone(*az)
            .publicly_accessible(*public)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create member of {id}: {e:?}"));
    }
}

async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str, kms_key: Option<&str>) {
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        );
    if let Some(key) = kms_key {
        req = req.sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key)
                .build(),
        );
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
}

async fn enable_pitr(ddb: &aws_sdk_dynamodb::Client, name: &str, days: i32) {
    ddb.update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .recovery_period_in_days(days)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("enable PITR on {name}: {e:?}"));
}

async fn create_vault(
    backup: &aws_sdk_backup::Client,
    name: &str,
    key: Option<&str>,
    lock_days: Option<i64>,
) {
    backup
        .create_backup_vault()
        .backup_vault_name(name)
        .set_encryption_key_arn(key.map(str::to_string))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create vault {name}: {e:?}"));
    if let Some(days) = lock_days {
        backup
            .put_backup_vault_lock_configuration()
            .backup_vault_name(name)
            .min_retention_days(days)
            .max_retention_days(3650)
            .send()
            .await
            .unwrap_or_else(|e| panic!("lock vault {name}: {e:?}"));
    }
}

#[tokio::test]
async fn rds_instances_on_moto_report_backups_pitr_encryption_multi_az_and_exposure() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let good = unique("good-db");
    let bad = unique("bad-db");
    create_instance(
        &rds,
        Db {
            id: &good,
            multi_az: true,
            public: false,
            encrypted: true,
            retention: 7,
            deletion_protection: true,
        },
    )
    .await;
    create_instance(
        &rds,
        Db {
            id: &bad,
            multi_az: false,
            public: true,
            encrypted: false,
            retention: 0,
            deletion_protection: false,
        },
    )
    .await;
    let probe = RdsProbe::new(moto_aws());
    let ctx = ctx_for(REGION, Some(&url));

    let obs = observe(&probe, &good, &ctx).await;
    assert_eq!(fact(&obs, "kind"), "instance");
    assert_eq!(fact(&obs, "engine"), "postgres");
    assert_eq!(fact(&obs, "status"), "available");
    assert_eq!(fact(&obs, "backup.retention_days"), 7);
    assert!(fact(&obs, "pitr.latest_restorable_time").is_string());
    assert!(lag_secs(&obs, "pitr.lag") < 120, "moto reports now");
    assert_eq!(fact(&obs, "storage.encrypted"), true);
    assert!(fact(&obs, "storage.kms_key_id").is_string());
    assert_eq!(fact(&obs, "multi_az"), true);
    assert_eq!(fact(&obs, "publicly_accessible"), false);
    assert_eq!(fact(&obs, "deletion_protection"), true);
    assert_eq!(
        obs.evidence["api_calls"][0]["action"],
        "rds:DescribeDBInstances"
    );

    let obs = observe(&probe, &bad, &ctx).await;
    assert_eq!(fact(&obs, "backup.retention_days"), 0);
    // Retention 0: no automated backups, so nothing is restorable (whatever moto says).
    assert_eq!(fact(&obs, "pitr.latest_restorable_time"), &Value::Null);
    assert_eq!(fact(&obs, "pitr.lag"), &Value::Null);
    assert_eq!(fact(&obs, "storage.encrypted"), false);
    assert_eq!(fact(&obs, "storage.kms_key_id"), &Value::Null);
    assert_eq!(fact(&obs, "multi_az"), false);
    assert_eq!(fact(&obs, "publicly_accessible"), true);
    assert_eq!(fact(&obs, "deletion_protection"), false);

    // The same instance by ARN.
    let arn = format!("arn:aws:rds:{REGION}:123456789012:db:{good}");
    let obs = observe(&probe, &arn, &ctx).await;
    assert_eq!(fact(&obs, "multi_az"), true);

    let e = observe_err(&probe, "no-such-db", &ctx).await;
    assert_eq!(e.kind, ProbeErrorKind::NotFound, "{e}");
    assert!(e.message.contains("no DB instance `no-such-db`"), "{e}");
    assert!(e.hint.unwrap().contains("cluster:NAME"));
}

#[tokio::test]
async fn rds_aurora_clusters_on_moto_take_exposure_from_their_members() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let spread = unique("spread");
    let exposed = unique("exposed");
    create_cluster(
        &rds,
        &spread,
        &[("eu-west-1a", false), ("eu-west-1b", false)],
    )
    .await;
    create_cluster(
        &rds,
        &exposed,
        &[("eu-west-1a", false), ("eu-west-1a", true)],
    )
    .await;
    let probe = RdsProbe::new(moto_aws());
    let ctx = ctx_for(REGION, Some(&url));

    let obs = observe(&probe, &format!("cluster:{spread}"), &ctx).await;
    assert_eq!(fact(&obs, "kind"), "cluster");
    assert_eq!(fact(&obs, "engine"), "aurora-postgresql");
    assert_eq!(fact(&obs, "backup.retention_days"), 14);
    assert!(lag_secs(&obs, "pitr.lag") < 120);
    assert_eq!(fact(&obs, "storage.encrypted"), true);
    assert_eq!(fact(&obs, "multi_az"), true, "members in two AZs");
    assert_eq!(fact(&obs, "publicly_accessible"), false);
    assert_eq!(fact(&obs, "deletion_protection"), true);
    assert_eq!(
        obs.evidence["database"]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let arn = format!("arn:aws:rds:{REGION}:123456789012:cluster:{exposed}");
    let obs = observe(&probe, &arn, &ctx).await;
    assert_eq!(fact(&obs, "multi_az"), false, "both members in one AZ");
    assert_eq!(
        fact(&obs, "publicly_accessible"),
        true,
        "one public member exposes the cluster"
    );

    let e = observe_err(&probe, "cluster:no-such-cluster", &ctx).await;
    assert_eq!(e.kind, ProbeErrorKind::NotFound, "{e}");
    assert!(e.message.contains("no DB cluster"), "{e}");
}

#[tokio::test]
async fn rds_discovery_on_moto_reads_every_page_and_represents_members_by_their_cluster() {
    // A region of its own, so that the population is exactly what this test made.
    let region = "ap-southeast-2";
    let url = moto_url();
    let cfg = seed_config(&url, region).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let run = unique("solo");
    let mut expected = BTreeSet::new();
    // 23 instances: two pages of 20 (RDS's smallest page).
    for i in 0..23 {
        let id = format!("{run}-{i:02}");
        create_instance(
            &rds,
            Db {
                id: &id,
                multi_az: false,
                public: false,
                encrypted: true,
                retention: 1,
                deletion_protection: false,
            },
        )
        .await;
        expected.insert(id);
    }
    let cluster = unique("pager");
    create_cluster(&rds, &cluster, &[("ap-southeast-2a", false)]).await;
    expected.insert(format!("cluster:{cluster}"));

    let probe = RdsProbe::new(moto_aws()).with_page_size(20);
    let ctx = ctx_for(region, Some(&url));
    let found: BTreeSet<String> = probe
        .discover("*", &ctx)
        .await
        .unwrap()
        .into_iter()
        .collect();
    // The region is this test's alone, but an earlier run against the same server left its
    // own resources: ours must all be there, and the member never on its own.
    assert!(
        found.is_superset(&expected),
        "missing: {:?}",
        expected.difference(&found).collect::<Vec<_>>()
    );
    assert!(
        !found.contains(&format!("{cluster}-0")),
        "a member is examined through its cluster"
    );
    // The run section says where the population came from, members included.
    let info = &ctx.run_info()[&format!("aws.rds.discovery.{region}")];
    assert!(
        info["cluster_members_examined_through_their_cluster"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("{cluster}-0"))),
        "{info}"
    );
    assert!(info["api_calls"].as_array().unwrap().len() >= 3, "{info}");
}

#[tokio::test]
async fn dynamodb_tables_on_moto_report_pitr_and_encryption() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let protected = unique("orders");
    let plain = unique("sessions");
    let key = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    create_table(&ddb, &protected, Some(key)).await;
    create_table(&ddb, &plain, None).await;
    enable_pitr(&ddb, &protected, 14).await;
    let probe = DynamoDbProbe::new(moto_aws());
    let ctx = ctx_for(REGION, Some(&url));

    let obs = observe(&probe, &protected, &ctx).await;
    assert_eq!(fact(&obs, "table.status"), "ACTIVE");
    assert_eq!(fact(&obs, "pitr.enabled"), true);
    assert!(fact(&obs, "pitr.latest_restorable_time").is_string());
    assert!(lag_secs(&obs, "pitr.lag") < 600);
    assert_eq!(fact(&obs, "pitr.recovery_period_days"), 14);
    assert_eq!(fact(&obs, "encryption.type"), "KMS");
    assert_eq!(fact(&obs, "encryption.kms_key_arn"), key);

    let obs = observe(&probe, &plain, &ctx).await;
    assert_eq!(fact(&obs, "pitr.enabled"), false);
    assert_eq!(fact(&obs, "pitr.latest_restorable_time"), &Value::Null);
    assert_eq!(fact(&obs, "pitr.lag"), &Value::Null);
    assert_eq!(fact(&obs, "pitr.recovery_period_days"), &Value::Null);
    assert_eq!(fact(&obs, "encryption.type"), "AWS_OWNED");
    assert_eq!(fact(&obs, "encryption.kms_key_arn"), &Value::Null);

    let arn = format!("arn:aws:dynamodb:{REGION}:123456789012:table/{protected}");
    let obs = observe(&probe, &arn, &ctx).await;
    assert_eq!(fact(&obs, "pitr.enabled"), true);

    let e = observe_err(&probe, "no-such-table", &ctx).await;
    assert_eq!(e.kind, ProbeErrorKind::NotFound, "{e}");
    assert!(
        e.message.contains("no DynamoDB table `no-such-table`"),
        "{e}"
    );
}

#[tokio::test]
async fn dynamodb_discovery_on_moto_follows_every_page() {
    let region = "ca-central-1";
    let url = moto_url();
    let cfg = seed_config(&url, region).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let run = unique("paged");
    let mut expected = BTreeSet::new();
    for i in 0..5 {
        let name = format!("{run}-{i}");
        create_table(&ddb, &name, None).await;
        expected.insert(name);
    }
    let probe = DynamoDbProbe::new(moto_aws()).with_page_size(2);
    let ctx = ctx_for(region, Some(&url));
    let found: BTreeSet<String> = probe
        .discover("*", &ctx)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        found.is_superset(&expected),
        "pages of two; missing: {:?}",
        expected.difference(&found).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn backup_vaults_on_moto_report_key_and_lock_and_leave_what_moto_lacks_unobserved() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let backup = aws_sdk_backup::Client::new(&cfg);
    let locked = unique("locked");
    let plain = unique("plain");
    let key = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    create_vault(&backup, &locked, Some(key), Some(30)).await;
    create_vault(&backup, &plain, None, None).await;
    let probe = BackupProbe::new(moto_aws());
    let ctx = ctx_for(REGION, Some(&url));

    let obs = observe(&probe, &locked, &ctx).await;
    assert_eq!(fact(&obs, "vault.encryption_key_arn"), key);
    assert_eq!(fact(&obs, "vault.locked"), true);
    assert_eq!(fact(&obs, "vault.min_retention_days"), 30);
    // moto answers 404 to the recovery-point and restore-job listings: those facts are
    // unobserved with the reason, never guessed.
    for f in [
        "restore.last_completed",
        "restore.completed_in_window",
        "recovery_point.last_completed",
        "recovery_point.encrypted",
    ] {
        let why = obs
            .unobserved
            .get(f)
            .unwrap_or_else(|| panic!("{f} should be unobserved: {:#?}", obs.facts));
        assert!(why.contains("404"), "{f}: {why}");
    }

    let obs = observe(&probe, &plain, &ctx).await;
    assert_eq!(fact(&obs, "vault.locked"), false);
    assert_eq!(fact(&obs, "vault.min_retention_days"), &Value::Null);

    let arn = format!("arn:aws:backup:{REGION}:123456789012:backup-vault:{locked}");
    let obs = observe(&probe, &arn, &ctx).await;
    assert_eq!(fact(&obs, "vault.locked"), true);

    let e = observe_err(&probe, "no-such-vault", &ctx).await;
    assert_eq!(e.kind, ProbeErrorKind::NotFound, "{e}");
    assert!(e.message.contains("no backup vault `no-such-vault`"), "{e}");
}

#[tokio::test]
async fn backup_discovery_on_moto_lists_every_vault() {
    // A region of its own; moto returns every vault in one page (it ignores maxResults), so
    // paging itself is proven by `backup_discovery_lists_every_vault_over_pages`.
    let region = "sa-east-1";
    let url = moto_url();
    let cfg = seed_config(&url, region).await;
    let backup = aws_sdk_backup::Client::new(&cfg);
    let mut expected = BTreeSet::new();
    for _ in 0..3 {
        let name = unique("found");
        create_vault(&backup, &name, None, None).await;
        expected.insert(name);
    }
    let probe = BackupProbe::new(moto_aws()).with_page_size(2);
    let found: BTreeSet<String> = probe
        .discover("*", &ctx_for(region, Some(&url)))
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        found.is_superset(&expected),
        "missing: {:?}",
        expected.difference(&found).collect::<Vec<_>>()
    );
}

fn resilience_inventory(
    dir: &std::path::Path,
    endpoint: &str,
    vaults: &[&str],
    databases: &[&str],
    tables: &[&str],
) {
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        dir.join("vouch.toml"),
        format!(
            "[targets]\naws_vaults = [{}]\naws_databases = [{}]\naws_tables = [{}]\n\n\
             [aws]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n",
            list(vaults),
            list(databases),
            list(tables)
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn vouch_check_on_moto_passes_and_fails_the_right_databases_tables_and_vaults() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let backup = aws_sdk_backup::Client::new(&cfg);
    let good = unique("e2e-good");
    let bad = unique("e2e-bad");
    let cluster = unique("e2e-aurora");
    create_instance(
        &rds,
        Db {
            id: &good,
            multi_az: true,
            public: false,
            encrypted: true,
            retention: 7,
            deletion_protection: true,
        },
    )
    .await;
    create_instance(
        &rds,
        Db {
            id: &bad,
            multi_az: false,
            public: true,
            encrypted: false,
            retention: 0,
            deletion_protection: false,
        },
    )
    .await;
    create_cluster(
        &rds,
        &cluster,
        &[("eu-west-1a", false), ("eu-west-1c", true)],
    )
    .await;
    let with_pitr = unique("e2e-orders");
    let without = unique("e2e-cache");
    create_table(&ddb, &with_pitr, None).await;
    create_table(&ddb, &without, None).await;
    enable_pitr(&ddb, &with_pitr, 35).await;
    let vault = unique("e2e-vault");
    // AWS gives every vault a key (AWS Backup's default key when none is named); moto leaves
    // EncryptionKeyArn out unless one is given, which would fail BACKUP-ENCRYPTED on moto's gap.
    let key = format!("arn:aws:kms:{REGION}:123456789012:key/11111111-2222-3333-4444-555555555555");
    create_vault(&backup, &vault, Some(&key), Some(7)).await;

    let dir = tempfile::tempdir().unwrap();
    let cluster_target = format!("cluster:{cluster}");
    resilience_inventory(
        dir.path(),
        &url,
        &[&vault],
        &[&good, &bad, &cluster_target],
        &[&with_pitr, &without],
    );
    let (out, report) = support::check_builtin_json_with_dummy_aws(
        &[
            "BACKUP-RDS-PITR",
            "ENC-REST-DATABASES",
            "INFRA-MULTI-AZ",
            "INFRA-DATABASES-PRIVATE",
            "BACKUP-DYNAMODB-PITR",
            "BACKUP-RECOVERY-POINT-FRESH",
            "BACKUP-ENCRYPTED",
        ],
        &dir.path().join("vouch.toml"),
    );
    assert_eq!(out.status.code(), Some(1), "something fails");

    let v = support::verdicts(&report, "BACKUP-RDS-PITR");
    assert_eq!(v[&good], "pass");
    assert_eq!(v[&bad], "fail", "retention 0: no point-in-time recovery");
    assert_eq!(v[&cluster_target], "pass");
    let v = support::verdicts(&report, "ENC-REST-DATABASES");
    assert_eq!(v[&good], "pass");
    assert_eq!(v[&bad], "fail");
    assert_eq!(v[&cluster_target], "pass");
    let v = support::verdicts(&report, "INFRA-MULTI-AZ");
    assert_eq!(v[&good], "pass");
    assert_eq!(v[&bad], "fail");
    assert_eq!(v[&cluster_target], "pass", "members in two AZs");
    let v = support::verdicts(&report, "INFRA-DATABASES-PRIVATE");
    assert_eq!(v[&good], "pass");
    assert_eq!(v[&bad], "fail");
    assert_eq!(v[&cluster_target], "fail", "one member is public");
    let v = support::verdicts(&report, "BACKUP-DYNAMODB-PITR");
    assert_eq!(v[&with_pitr], "pass");
    assert_eq!(v[&without], "fail");
    // moto implements no restore jobs or recovery points: those controls cannot be decided
    // here, and say so (error), never pass. The replayed-response tests decide them.
    for control in ["BACKUP-RECOVERY-POINT-FRESH", "BACKUP-ENCRYPTED"] {
        let v = support::verdicts(&report, control);
        assert_eq!(v[&vault], "error", "{control}");
        assert!(
            detail(&report, control, &vault).contains("404"),
            "{control}: {}",
            detail(&report, control, &vault)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Replayed responses (the SDK's StaticReplayClient)

/// One recorded exchange: the request we expect (kept for reading; the replay client answers in
/// order) and the response, with the headers AWS sends.
fn event(method: &str, uri: &str, status: u16, content_type: &str, body: String) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method(method)
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
        "POST",
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

const BACKUP: &str = "https://backup.eu-west-1.amazonaws.com";

fn backup_ok(path: &str, body: Value) -> ReplayEvent {
    event(
        "GET",
        &format!("{BACKUP}{path}"),
        200,
        "application/json",
        body.to_string(),
    )
}

/// A REST-JSON error as AWS Backup sends it: the code in `x-amzn-ErrorType` and the body.
fn backup_error(path: &str, status: u16, code: &str, message: &str) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri(format!("{BACKUP}{path}"))
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", code)
            .header("x-amzn-requestid", unique("req"))
            .body(SdkBody::from(
                json!({"__type": code, "Message": message}).to_string(),
            ))
            .unwrap(),
    )
}

/// A factory whose HTTP client replays `events` (after the caller-identity call), with
/// retries quick enough for a test.
fn replay(events: Vec<ReplayEvent>) -> (Arc<Aws>, StaticReplayClient, ProbeContext) {
    let mut all = vec![sts_identity()];
    all.extend(events);
    let client = StaticReplayClient::new(all);
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(test_credentials()),
        http_client: Some(SharedHttpClient::new(client.clone())),
        retry: Some(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        ),
    });
    // One listed region: these replays are about one region's calls, not the choice of regions
    // (an unset `[aws] regions` would first ask EC2 DescribeRegions).
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.aws.regions = Some(vec![REGION.into()]);
    (
        aws,
        client,
        ProbeContext::new(Arc::new(inv), ProbeOptions::default()),
    )
}

/// The request URIs the probe sent, without the caller-identity call.
fn uris(client: &StaticReplayClient) -> Vec<String> {
    client
        .actual_requests()
        .skip(1)
        .map(|r| r.uri().to_string())
        .collect()
}

fn vault_arn(name: &str) -> String {
    format!("arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{name}")
}

fn describe_vault(name: &str, locked: bool) -> ReplayEvent {
    let mut body = json!({
        "BackupVaultName": name,
        "BackupVaultArn": vault_arn(name),
        "EncryptionKeyArn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        "CreationDate": epoch_days_ago(400.0),
        "CreatorRequestId": "vouch-test",
        "NumberOfRecoveryPoints": 2,
        "Locked": locked,
    });
    if locked {
        body["MinRetentionDays"] = json!(35);
        body["MaxRetentionDays"] = json!(3650);
        body["LockDate"] = json!(epoch_days_ago(300.0));
    }
    backup_ok(&format!("/backup-vaults/{name}"), body)
}

fn rp_arn(n: u32) -> String {
    format!("arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:rp-{n:04}")
}

fn recovery_point(vault: &str, n: u32, hours_ago: f64, status: &str, encrypted: bool) -> Value {
    let created = epoch_days_ago(hours_ago / 24.0);
    json!({
        "RecoveryPointArn": rp_arn(n),
        "BackupVaultName": vault,
        "BackupVaultArn": vault_arn(vault),
        "ResourceArn": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"),
        "ResourceType": "DynamoDB",
        "Status": status,
        "CreationDate": created,
        "CompletionDate": created + 600,
        "IsEncrypted": encrypted,
        "BackupSizeInBytes": 1048576,
    })
}

fn recovery_points(vault: &str, points: Vec<Value>) -> ReplayEvent {
    backup_ok(
        &format!("/backup-vaults/{vault}/recovery-points?maxResults=1000"),
        json!({"RecoveryPoints": points}),
    )
}

/// A restore job. `vault` names the vault in the job (newer responses), or `None` to leave the
/// job to be attributed through its recovery point.
fn restore_job(id: &str, status: &str, days_ago: f64, vault: Option<&str>, rp: u32) -> Value {
    let done = epoch_days_ago(days_ago);
    let mut job = json!({
        "AccountId": ACCOUNT,
        "RestoreJobId": id,
        "RecoveryPointArn": rp_arn(rp),
        "CreationDate": done - 1800,
        "Status": status,
        "ResourceType": "DynamoDB",
        "CreatedResourceArn": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-restored-{id}"),
        "IamRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/backup-restore"),
    });
    if status == "COMPLETED" || status == "FAILED" {
        job["CompletionDate"] = json!(done);
    }
    if let Some(v) = vault {
        job["BackupVaultArn"] = json!(vault_arn(v));
    }
    job
}

/// A page of the region's COMPLETED restores (ListRestoreJobs `ByStatus=COMPLETED`,
/// `ByCompleteAfter`), the first of the two listings of a region's history.
fn restore_jobs_page(jobs: Vec<Value>, next: Option<&str>, token: Option<&str>) -> ReplayEvent {
    let mut body = json!({"RestoreJobs": jobs});
    if let Some(n) = next {
        body["NextToken"] = json!(n);
    }
    let path = match token {
        Some(t) => format!("/restore-jobs?maxResults=1000&nextToken={t}"),
        None => "/restore-jobs?maxResults=1000".to_string(),
    };
    backup_ok(&path, body)
}

/// The second listing of a region's history: every restore created in the window, whatever
/// its status (ListRestoreJobs `ByCreatedAfter`), one page.
fn recent_jobs_page(jobs: Vec<Value>) -> ReplayEvent {
    backup_ok(
        "/restore-jobs?createdAfter=recent&maxResults=1000",
        json!({"RestoreJobs": jobs}),
    )
}

/// The epoch seconds of a time query parameter (`completeAfter=2026-…` in the SDK's form).
fn query_time(uri: &str, name: &str) -> i64 {
    let value = uri
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing: {uri}"));
    let value = value.replace("%3A", ":");
    value
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{name}={value}: {e}"))
        .as_second()
}

/// The usual start of a vault observation: the vault, then one page of recovery points.
fn vault_with_points(name: &str, points: Vec<Value>) -> Vec<ReplayEvent> {
    vec![describe_vault(name, true), recovery_points(name, points)]
}

#[tokio::test]
async fn backup_restore_jobs_over_two_pages_newest_completed_of_this_vault_wins() {
    let mut events = vault_with_points(
        "prod",
        vec![
            recovery_point("prod", 1, 3.0, "COMPLETED", true),
            recovery_point("prod", 2, 27.0, "COMPLETED", true),
        ],
    );
    events.push(restore_jobs_page(
        vec![
            restore_job("ancient", "COMPLETED", 200.0, Some("prod"), 2),
            // Another vault's restore, newer than any of ours: not ours to count.
            restore_job("elsewhere", "COMPLETED", 0.5, Some("other"), 99),
        ],
        Some("page-2-token"),
        None,
    ));
    events.push(restore_jobs_page(
        vec![
            // No BackupVaultArn: attributed through its recovery point, which is in `prod`.
            restore_job("recent", "COMPLETED", 10.0, None, 1),
            restore_job("older", "COMPLETED", 50.0, Some("prod"), 2),
        ],
        None,
        Some("page-2-token"),
    ));
    // The window's jobs of any status: one aborted, and one both listings return (one job).
    events.push(recent_jobs_page(vec![
        restore_job("aborted", "ABORTED", 60.0, Some("prod"), 2),
        restore_job("recent", "COMPLETED", 10.0, None, 1),
    ]));
    let (aws, client, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), "prod", &ctx).await;

    let last = fact(&obs, "restore.last_completed")
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    assert_eq!(
        last.as_second(),
        epoch_days_ago(10.0),
        "the job on page two"
    );
    assert_eq!(fact(&obs, "restore.age_days"), 10);
    assert_eq!(
        fact(&obs, "restore.completed_in_window"),
        2,
        "10 and 50 days"
    );
    assert_eq!(fact(&obs, "restore.last_status"), "COMPLETED");
    assert_eq!(fact(&obs, "restore.validation_status"), &Value::Null);
    assert_eq!(obs.evidence["restore_jobs"]["attributed"], 4);
    assert_eq!(obs.evidence["restore_jobs"]["listed_in_region"], 5);
    assert_eq!(
        obs.evidence["restore_jobs"]["newest_completed_job"],
        "recent"
    );
    assert_eq!(fact(&obs, "recovery_point.age_days"), 0, "3 hours old");
    assert_eq!(fact(&obs, "recovery_point.count"), 2);
    assert_eq!(fact(&obs, "recovery_point.encrypted"), true);
    assert_eq!(fact(&obs, "vault.locked"), true);
    assert_eq!(fact(&obs, "vault.min_retention_days"), 35);
    assert!(
        fact(&obs, "vault.encryption_key_arn")
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:")
    );

    // The second ListRestoreJobs request carried the first page's token; the history is read
    // with the API's filters: COMPLETED restores of the last year, then the window's jobs.
    let sent = uris(&client);
    assert_eq!(sent.len(), 5, "{sent:#?}");
    assert!(sent[0].contains("/backup-vaults/prod"), "{sent:#?}");
    assert!(sent[1].contains("/backup-vaults/prod/recovery-points"));
    assert!(sent[2].contains("/restore-jobs") && !sent[2].contains("nextToken"));
    let since = |days: i64| jiff::Timestamp::now().as_second() - days * 86_400;
    for (page, uri) in sent[2..4].iter().enumerate() {
        assert!(uri.contains("status=COMPLETED"), "page {page}: {uri}");
        let after = query_time(uri, "completeAfter");
        assert!((after - since(366)).abs() < 120, "{uri}");
        assert!(!uri.contains("createdAfter"), "{uri}");
    }
    assert!(sent[3].contains("nextToken=page-2-token"), "{sent:#?}");
    assert!(!sent[4].contains("status="), "{}", sent[4]);
    assert!(
        (query_time(&sent[4], "createdAfter") - since(92)).abs() < 120,
        "{}",
        sent[4]
    );
    // Every response is evidence, with its request id.
    let calls = obs.evidence["api_calls"].as_array().unwrap();
    let actions: Vec<&str> = calls
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "backup:DescribeBackupVault",
            "backup:ListRecoveryPointsByBackupVault",
            "backup:ListRestoreJobs",
            "backup:ListRestoreJobs",
            "backup:ListRestoreJobs"
        ]
    );
    assert!(calls.iter().all(|c| c["request_id"].is_string()));
    assert_eq!(
        calls[3]["response"]["RestoreJobs"][0]["RestoreJobId"],
        "recent"
    );
}

#[tokio::test]
async fn backup_newest_failed_job_with_an_older_completed_one() {
    let mut events = vault_with_points(
        "prod",
        vec![recovery_point("prod", 1, 5.0, "COMPLETED", true)],
    );
    let mut validated = restore_job("tested", "COMPLETED", 30.0, Some("prod"), 1);
    validated["ValidationStatus"] = json!("SUCCESSFUL");
    validated["CreatedBy"] = json!({"RestoreTestingPlanArn":
        format!("arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:quarterly")});
    events.push(restore_jobs_page(vec![validated.clone()], None, None));
    events.push(recent_jobs_page(vec![
        restore_job("broken", "FAILED", 1.0, Some("prod"), 1),
        validated,
    ]));
    let (aws, _, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), "prod", &ctx).await;
    assert_eq!(fact(&obs, "restore.last_status"), "FAILED");
    assert_eq!(fact(&obs, "restore.age_days"), 30);
    assert_eq!(fact(&obs, "restore.completed_in_window"), 1);
    assert_eq!(fact(&obs, "restore.validation_status"), "SUCCESSFUL");
}

#[tokio::test]
async fn backup_vault_with_no_restore_jobs_observes_none_and_the_control_fails() {
    let mut events = vault_with_points("empty", vec![]);
    events.push(restore_jobs_page(vec![], None, None));
    events.push(recent_jobs_page(vec![]));
    let (aws, _, ctx) = replay(events);
    let probe = BackupProbe::new(aws);
    let obs = observe(&probe, "empty", &ctx).await;
    assert_eq!(fact(&obs, "restore.last_completed"), &Value::Null);
    assert_eq!(fact(&obs, "restore.age_days"), &Value::Null);
    assert_eq!(fact(&obs, "restore.last_status"), &Value::Null);
    assert_eq!(fact(&obs, "restore.completed_in_window"), 0);
    assert_eq!(fact(&obs, "recovery_point.last_completed"), &Value::Null);
    assert_eq!(fact(&obs, "recovery_point.encrypted"), &Value::Null);
    assert_eq!(fact(&obs, "recovery_point.count"), 0);
    assert_eq!(
        obs.evidence["restore_jobs"]["note"],
        "no completed restore job"
    );
    let table = probe.render(&obs).unwrap();
    assert!(table.contains("no completed restore job"), "{table}");

    // A restore rule on the vault, evaluated as the engine does: a fail, not an error, not a
    // pass.
    let control = vault_restored();
    let result = engine::evaluate(&control, &obs, None, jiff::Timestamp::now());
    assert_eq!(result.verdict, vouch::expect::Verdict::Fail);
    assert_eq!(result.checks[0].observed, Some(Value::Null));
    assert!(
        result.checks[0]
            .describe()
            .contains("restore.last_completed within 92d (observed none)"),
        "{}",
        result.checks[0].describe()
    );
}

#[tokio::test]
async fn backup_access_denied_on_restore_jobs_leaves_only_restore_facts_unobserved() {
    let mut events = vault_with_points(
        "prod",
        vec![recovery_point("prod", 1, 2.0, "COMPLETED", true)],
    );
    events.push(backup_error(
        "/restore-jobs?maxResults=1000",
        403,
        "AccessDeniedException",
        "User: arn:aws:iam::111122223333:user/auditor is not authorized to perform: backup:ListRestoreJobs",
    ));
    let (aws, _, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), "prod", &ctx).await;
    for f in [
        "restore.last_completed",
        "restore.age_days",
        "restore.last_status",
        "restore.validation_status",
        "restore.completed_in_window",
    ] {
        let why = &obs.unobserved[f];
        assert!(
            why.contains("backup:ListRestoreJobs was denied to") && why.contains(PRINCIPAL),
            "{f}: {why}"
        );
        assert!(!obs.facts.contains_key(f));
    }
    // What the other calls showed stays usable.
    assert_eq!(fact(&obs, "recovery_point.encrypted"), true);
    assert_eq!(fact(&obs, "vault.locked"), true);
    let calls = obs.evidence["api_calls"].as_array().unwrap();
    assert_eq!(calls[2]["error_code"], "AccessDeniedException");
    assert_eq!(calls[2]["status"], 403);
}

#[tokio::test]
async fn backup_access_denied_on_the_vault_is_an_error_naming_action_and_principal() {
    let (aws, _, ctx) = replay(vec![backup_error(
        "/backup-vaults/prod",
        403,
        "AccessDeniedException",
        "not authorized",
    )]);
    let e = observe_err(&BackupProbe::new(aws), "prod", &ctx).await;
    assert_eq!(e.kind, ProbeErrorKind::Denied);
    assert!(e.message.contains("backup:DescribeBackupVault"), "{e}");
    assert!(e.message.contains(PRINCIPAL), "{e}");
    assert!(e.hint.unwrap().contains("backup:DescribeBackupVault"));
}

#[tokio::test]
async fn backup_throttling_then_success_is_retried_and_recorded() {
    let mut events = vault_with_points(
        "prod",
        vec![recovery_point("prod", 1, 2.0, "COMPLETED", true)],
    );
    events.push(backup_error(
        "/restore-jobs?maxResults=1000",
        400,
        "ThrottlingException",
        "Rate exceeded",
    ));
    events.push(restore_jobs_page(
        vec![restore_job("ok", "COMPLETED", 20.0, Some("prod"), 1)],
        None,
        None,
    ));
    events.push(recent_jobs_page(vec![]));
    let (aws, client, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), "prod", &ctx).await;
    assert_eq!(fact(&obs, "restore.age_days"), 20);
    let calls = obs.evidence["api_calls"].as_array().unwrap();
    assert_eq!(calls[2]["action"], "backup:ListRestoreJobs");
    assert_eq!(calls[2]["attempts"], 2, "{:#?}", calls[2]);
    assert_eq!(calls[2]["status"], 200);
    assert_eq!(
        uris(&client).len(),
        5,
        "the throttled request was sent again"
    );
}

#[tokio::test]
async fn backup_throttling_that_persists_is_an_error_never_a_pass() {
    let mut events = vault_with_points("prod", vec![]);
    for _ in 0..3 {
        events.push(backup_error(
            "/restore-jobs?maxResults=1000",
            400,
            "ThrottlingException",
            "Rate exceeded",
        ));
    }
    let (aws, _, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), "prod", &ctx).await;
    let why = &obs.unobserved["restore.last_completed"];
    assert!(why.contains("still throttled after 3 attempts"), "{why}");
}

#[tokio::test]
async fn backup_restore_jobs_that_cannot_be_attributed_are_not_guessed() {
    // The recovery-point listing is denied and a job names no vault: which vault it restored
    // from is unknown, so the restore facts are unobserved rather than counted or dropped.
    let events = vec![
        describe_vault("prod", false),
        backup_error(
            "/backup-vaults/prod/recovery-points?maxResults=1000",
            403,
            "AccessDeniedException",
            "not authorized",
        ),
        restore_jobs_page(
            vec![restore_job("legacy", "COMPLETED", 5.0, None, 1)],
            None,
            None,
        ),
        recent_jobs_page(vec![]),
    ];
    let (aws, _, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), "prod", &ctx).await;
    assert!(
        obs.unobserved["restore.last_completed"].contains("cannot be attributed"),
        "{:?}",
        obs.unobserved
    );
    assert!(obs.unobserved["recovery_point.encrypted"].contains("denied"));
    assert_eq!(fact(&obs, "vault.locked"), false);
}

#[tokio::test]
async fn backup_protected_resource_target_reads_its_own_jobs_points_and_vault() {
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders");
    let encoded = table.replace(':', "%3A").replace('/', "%2F");
    let events = vec![
        backup_ok(
            &format!("/resources/{encoded}"),
            json!({
                "ResourceArn": table,
                "ResourceType": "DynamoDB",
                "ResourceName": "orders",
                "LastBackupTime": epoch_days_ago(0.2),
                "LastBackupVaultArn": vault_arn("prod"),
                "LastRecoveryPointArn": rp_arn(7),
            }),
        ),
        describe_vault("prod", true),
        backup_ok(
            &format!("/resources/{encoded}/recovery-points"),
            json!({"RecoveryPoints": [
                {"RecoveryPointArn": rp_arn(7), "CreationDate": epoch_days_ago(0.2),
                 "Status": "COMPLETED", "EncryptionKeyArn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/k"),
                 "BackupVaultName": "prod", "BackupSizeBytes": 2048},
                {"RecoveryPointArn": rp_arn(6), "CreationDate": epoch_days_ago(1.2),
                 "Status": "COMPLETED", "BackupVaultName": "prod", "BackupSizeBytes": 2048},
            ]}),
        ),
        backup_ok(
            &format!("/resources/{encoded}/restore-jobs"),
            json!({"RestoreJobs": [restore_job("quarterly", "COMPLETED", 80.0, Some("prod"), 6)]}),
        ),
    ];
    let (aws, client, ctx) = replay(events);
    let obs = observe(&BackupProbe::new(aws), &table, &ctx).await;
    assert_eq!(fact(&obs, "restore.age_days"), 80);
    assert_eq!(fact(&obs, "restore.completed_in_window"), 1);
    assert_eq!(fact(&obs, "recovery_point.count"), 2);
    assert_eq!(
        fact(&obs, "recovery_point.encrypted"),
        false,
        "one point has no encryption key"
    );
    assert_eq!(
        obs.evidence["recovery_points"]["unencrypted_examples"][0],
        rp_arn(6)
    );
    assert_eq!(fact(&obs, "vault.locked"), true);
    let sent = uris(&client);
    assert!(sent[0].contains("/resources/"), "{sent:#?}");
    assert!(sent[1].ends_with("/backup-vaults/prod"), "{sent:#?}");
    assert!(sent[3].contains("/restore-jobs"), "{sent:#?}");
}

#[tokio::test]
async fn backup_discovery_lists_every_vault_over_pages() {
    let (aws, client, ctx) = replay(vec![
        backup_ok(
            "/backup-vaults?maxResults=1000",
            json!({"BackupVaultList": [
                {"BackupVaultName": "b-vault", "BackupVaultArn": vault_arn("b-vault"), "NumberOfRecoveryPoints": 0},
                {"BackupVaultName": "a-vault", "BackupVaultArn": vault_arn("a-vault"), "NumberOfRecoveryPoints": 3},
            ], "NextToken": "more"}),
        ),
        backup_ok(
            "/backup-vaults?maxResults=1000&nextToken=more",
            json!({"BackupVaultList": [
                {"BackupVaultName": "c-vault", "BackupVaultArn": vault_arn("c-vault"), "NumberOfRecoveryPoints": 1},
            ]}),
        ),
    ]);
    let found = BackupProbe::new(aws).discover("*", &ctx).await.unwrap();
    assert_eq!(found, ["a-vault", "b-vault", "c-vault"]);
    assert!(uris(&client)[1].contains("nextToken=more"));
}

/// DescribeDBInstances as RDS answers it (awsQuery XML).
fn rds_instance(id: &str, retention: i32, restorable_minutes_ago: i64) -> ReplayEvent {
    let latest = jiff::Timestamp::from_second(
        jiff::Timestamp::now().as_second() - restorable_minutes_ago * 60,
    )
    .unwrap();
    event(
        "POST",
        "https://rds.eu-west-1.amazonaws.com/",
        200,
        "text/xml",
        format!(
            r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>{id}</DBInstanceIdentifier>
        <DBInstanceArn>arn:aws:rds:{REGION}:{ACCOUNT}:db:{id}</DBInstanceArn>
        <Engine>postgres</Engine>
        <EngineVersion>16.3</EngineVersion>
        <DBInstanceStatus>available</DBInstanceStatus>
        <DBInstanceClass>db.m6g.large</DBInstanceClass>
        <BackupRetentionPeriod>{retention}</BackupRetentionPeriod>
        <LatestRestorableTime>{latest}</LatestRestorableTime>
        <MultiAZ>true</MultiAZ>
        <AvailabilityZone>eu-west-1a</AvailabilityZone>
        <SecondaryAvailabilityZone>eu-west-1b</SecondaryAvailabilityZone>
        <PubliclyAccessible>false</PubliclyAccessible>
        <StorageEncrypted>true</StorageEncrypted>
        <KmsKeyId>arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd</KmsKeyId>
        <DeletionProtection>true</DeletionProtection>
        <MasterUsername>admin_user</MasterUsername>
      </DBInstance>
    </DBInstances>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>"#,
            unique("req")
        ),
    )
}

#[tokio::test]
async fn rds_pitr_lag_of_replayed_instances_passes_and_fails_the_built_in_control() {
    // moto always reports "now" as the latest restorable time; RDS itself lags by minutes, and
    // by hours when log uploads stall. One instance 3 minutes behind, one 40.
    let (aws, _, ctx) = replay(vec![
        rds_instance("keeping-up", 7, 3),
        rds_instance("stalled", 7, 40),
    ]);
    let probe = RdsProbe::new(aws);
    let fresh = observe(&probe, "keeping-up", &ctx).await;
    let stale = observe(&probe, "stalled", &ctx).await;
    assert!((180..240).contains(&lag_secs(&fresh, "pitr.lag")));
    assert!((2400..2460).contains(&lag_secs(&stale, "pitr.lag")));
    let control = support::builtin_controls(&["BACKUP-RDS-PITR"]).remove(0);
    let now = jiff::Timestamp::now();
    assert_eq!(
        engine::evaluate(&control, &fresh, None, now).verdict,
        vouch::expect::Verdict::Pass
    );
    let failed = engine::evaluate(&control, &stale, None, now);
    assert_eq!(failed.verdict, vouch::expect::Verdict::Fail);
    assert_eq!(failed.checks[1].fact, "pitr.lag");
}

#[tokio::test]
async fn vouch_check_through_the_engine_passes_a_tested_vault_and_fails_a_stale_one() {
    // Two vaults, observed one after another (concurrency 1, so the replay order holds):
    // `a-fresh` restored 10 days ago with a recovery point 3 hours old; `b-stale` restored
    // 120 days ago, newest point 3 days old, and one unencrypted point.
    let mut events = vault_with_points(
        "a-fresh",
        vec![recovery_point("a-fresh", 1, 3.0, "COMPLETED", true)],
    );
    events.push(restore_jobs_page(
        vec![restore_job(
            "fresh-restore",
            "COMPLETED",
            10.0,
            Some("a-fresh"),
            1,
        )],
        None,
        None,
    ));
    events.push(recent_jobs_page(vec![]));
    events.extend(vault_with_points(
        "b-stale",
        vec![
            recovery_point("b-stale", 2, 72.0, "COMPLETED", true),
            recovery_point("b-stale", 3, 96.0, "COMPLETED", false),
            recovery_point("b-stale", 4, 1.0, "CREATING", true),
        ],
    ));
    events.push(restore_jobs_page(
        vec![
            restore_job("stale-restore", "COMPLETED", 120.0, Some("b-stale"), 2),
            restore_job("fresh-restore", "COMPLETED", 10.0, Some("a-fresh"), 1),
        ],
        None,
        None,
    ));
    let (aws, _, _) = replay(events);
    let registry = registry_with("aws.backup", aws);
    let mut controls =
        support::builtin_controls(&["BACKUP-RECOVERY-POINT-FRESH", "BACKUP-ENCRYPTED"]);
    controls.push(vault_restored());
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.targets.insert(
        "aws_vaults".into(),
        vec!["a-fresh".into(), "b-stale".into()],
    );
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let opts = EngineOptions {
        concurrency: 1,
        per_host: 1,
        ..EngineOptions::default()
    };
    let report = engine::run(&controls, &registry, &ctx, &opts, None, None).await;
    let report = serde_json::to_value(&report).unwrap();

    let v = support::verdicts(&report, "TEST-VAULT-RESTORED");
    assert_eq!(v["a-fresh"], "pass");
    assert_eq!(
        v["b-stale"],
        "fail",
        "{}",
        detail(&report, "TEST-VAULT-RESTORED", "b-stale")
    );
    let v = support::verdicts(&report, "BACKUP-RECOVERY-POINT-FRESH");
    assert_eq!(v["a-fresh"], "pass");
    assert_eq!(
        v["b-stale"], "fail",
        "the 1-hour-old point is still being created"
    );
    let v = support::verdicts(&report, "BACKUP-ENCRYPTED");
    assert_eq!(v["a-fresh"], "pass");
    assert_eq!(v["b-stale"], "fail");
    assert_eq!(
        report["run"]["context"]["aws.caller_identity"]["account"],
        ACCOUNT
    );
}

#[tokio::test]
async fn star_covers_every_region_in_aws_regions_naming_far_resources_by_arn() {
    // Home ca-central-1, far ap-northeast-2: regions no other test seeds.
    let (home, far) = ("ca-central-1", "ap-northeast-2");
    let url = moto_url();
    let mut ctx_inv = Inventory::default();
    ctx_inv.aws.region = Some(home.into());
    ctx_inv.aws.endpoint_url = Some(url.clone());
    ctx_inv.aws.regions = Some(vec![home.into(), far.into()]);
    let ctx = ProbeContext::new(Arc::new(ctx_inv), ProbeOptions::default());

    let mut names = Vec::new();
    for region in [home, far] {
        let cfg = seed_config(&url, region).await;
        let (db, table, vault) = (unique("regdb"), unique("regtable"), unique("regvault"));
        create_instance(
            &aws_sdk_rds::Client::new(&cfg),
            Db {
                id: &db,
                multi_az: region == far,
                public: false,
                encrypted: true,
                retention: 7,
                deletion_protection: false,
            },
        )
        .await;
        create_table(&aws_sdk_dynamodb::Client::new(&cfg), &table, None).await;
        create_vault(&aws_sdk_backup::Client::new(&cfg), &vault, None, None).await;
        names.push((db, table, vault));
    }
    let (home_db, home_table, home_vault) = &names[0];
    let (far_db, far_table, far_vault) = &names[1];

    let rds = RdsProbe::new(moto_aws());
    let found = rds.discover("*", &ctx).await.unwrap();
    assert!(found.contains(home_db), "{found:?}");
    let far_target = found
        .iter()
        .find(|t| t.ends_with(&format!(":db:{far_db}")))
        .unwrap_or_else(|| panic!("{far_db} not discovered: {found:?}"));
    assert!(
        far_target.starts_with(&format!("arn:aws:rds:{far}:")),
        "{far_target}"
    );
    let obs = observe(&rds, far_target, &ctx).await;
    assert_eq!(obs.evidence["region"], json!(far));
    assert_eq!(fact(&obs, "multi_az"), &json!(true));

    let ddb = DynamoDbProbe::new(moto_aws());
    let found = ddb.discover("*", &ctx).await.unwrap();
    assert!(found.contains(home_table), "{found:?}");
    let far_target = found
        .iter()
        .find(|t| t.ends_with(&format!(":table/{far_table}")))
        .unwrap_or_else(|| panic!("{far_table} not discovered: {found:?}"));
    assert!(
        far_target.starts_with(&format!("arn:aws:dynamodb:{far}:")),
        "{far_target}"
    );
    let obs = observe(&ddb, far_target, &ctx).await;
    assert_eq!(obs.evidence["region"], json!(far));
    assert_eq!(fact(&obs, "pitr.enabled"), &json!(false));

    let backup = BackupProbe::new(moto_aws());
    let found = backup.discover("*", &ctx).await.unwrap();
    assert!(found.contains(home_vault), "{found:?}");
    let far_target = found
        .iter()
        .find(|t| t.ends_with(&format!(":backup-vault:{far_vault}")))
        .unwrap_or_else(|| panic!("{far_vault} not discovered: {found:?}"));
    let obs = observe(&backup, far_target, &ctx).await;
    assert_eq!(obs.evidence["region"], json!(far));

    // Each region's listing is recorded, and the scope itself.
    let info = ctx.run_info();
    for kind in ["rds", "dynamodb", "backup"] {
        for region in [home, far] {
            assert!(
                info.contains_key(&format!("aws.{kind}.discovery.{region}")),
                "aws.{kind}.discovery.{region} missing"
            );
        }
    }
    assert_eq!(info["aws.regions"]["regions"], json!([home, far]));

    // Without `[aws] regions`: every region enabled for the account (EC2 DescribeRegions),
    // so the far table is found too, and the run says how the regions were chosen.
    let unset = ctx_for(home, Some(&url));
    let found = DynamoDbProbe::new(moto_aws())
        .discover("*", &unset)
        .await
        .unwrap();
    assert!(found.contains(home_table), "{found:?}");
    assert!(
        found.iter().any(|t| t.contains(far_table.as_str())),
        "{found:?}"
    );
    assert_eq!(
        unset.run_info()["aws.regions"]["from"],
        json!("every enabled region ([aws] regions unset; EC2 DescribeRegions)")
    );
}

// ---------------------------------------------------------------------------------------------
// Restore proof per protected resource (replay: moto has no restore jobs or restore testing)

fn protected_resource_events(table: &str, jobs: Vec<Value>) -> Vec<ReplayEvent> {
    let encoded = table.replace(':', "%3A").replace('/', "%2F");
    vec![
        backup_ok(
            &format!("/resources/{encoded}"),
            json!({
                "ResourceArn": table,
                "ResourceType": "DynamoDB",
                "ResourceName": "orders",
                "LastBackupTime": epoch_days_ago(0.5),
                "LastBackupVaultArn": vault_arn("prod"),
                "LastRecoveryPointArn": rp_arn(1),
            }),
        ),
        describe_vault("prod", true),
        backup_ok(
            &format!("/resources/{encoded}/recovery-points"),
            json!({"RecoveryPoints": [
                {"RecoveryPointArn": rp_arn(1), "CreationDate": epoch_days_ago(0.5),
                 "Status": "COMPLETED", "EncryptionKeyArn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/k"),
                 "BackupVaultName": "prod", "BackupSizeBytes": 2048},
            ]}),
        ),
        backup_ok(
            &format!("/resources/{encoded}/restore-jobs"),
            json!({ "RestoreJobs": jobs }),
        ),
    ]
}

fn validated(id: &str, days_ago: f64, validation: &str) -> Value {
    let mut job = restore_job(id, "COMPLETED", days_ago, Some("prod"), 1);
    job["ValidationStatus"] = json!(validation);
    job["CreatedBy"] = json!({"RestoreTestingPlanArn":
        format!("arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:quarterly")});
    job
}

/// The wrong answer this prevents: a restore whose restore-testing validation FAILED (or timed
/// out, or is still validating) counting as a tested restore.
#[tokio::test]
async fn backup_restore_whose_validation_failed_is_not_a_validated_restore() {
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders");
    let (aws, _, ctx) = replay(protected_resource_events(
        &table,
        vec![
            validated("failed", 3.0, "FAILED"),
            validated("timed-out", 10.0, "TIMED_OUT"),
            validated("validating", 1.0, "VALIDATING"),
            validated("good", 120.0, "SUCCESSFUL"),
        ],
    ));
    let obs = observe(&BackupProbe::new(aws), &table, &ctx).await;
    assert_eq!(fact(&obs, "backup.protected"), true);
    assert!(fact(&obs, "backup.last_recovery_point").is_string());
    // The newest completed restore is 1 day old, but the newest validated one is 120 days old.
    assert_eq!(fact(&obs, "restore.age_days"), 1);
    let ok = fact(&obs, "restore.last_validated_ok").as_str().unwrap();
    let age = jiff::Timestamp::now().duration_since(ok.parse::<jiff::Timestamp>().unwrap());
    assert_eq!(age.as_secs() / 86_400, 120, "{ok}");
    assert_eq!(
        obs.evidence["restore_jobs"]["newest_validated_ok_job"],
        "good"
    );

    // The built-in control judges the validated restore: a fail, not a pass.
    let registry = registry_with("aws.backup", Aws::new());
    let mut diags = vouch::diag::Diagnostics::new();
    let control = vouch::control::load_controls(
        &vouch::control::builtin::sources(),
        &registry,
        None,
        &mut diags,
    )
    .into_iter()
    .find(|c| c.id == "BACKUP-RESTORE-TESTED")
    .unwrap();
    let result = engine::evaluate(&control, &obs, None, jiff::Timestamp::now());
    assert_eq!(result.verdict, vouch::expect::Verdict::Fail, "{result:?}");

    // A manual restore (no validation) 10 days ago counts.
    let (aws, _, ctx) = replay(protected_resource_events(
        &table,
        vec![restore_job("manual", "COMPLETED", 10.0, Some("prod"), 1)],
    ));
    let obs = observe(&BackupProbe::new(aws), &table, &ctx).await;
    let result = engine::evaluate(&control, &obs, None, jiff::Timestamp::now());
    assert_eq!(result.verdict, vouch::expect::Verdict::Pass, "{result:?}");
}

/// The wrong answer this prevents: a resource AWS Backup never protected being an `error`
/// (so a coverage gap reads as "could not look") instead of an observed `backup.protected ==
/// false` that fails.
#[tokio::test]
async fn backup_resource_aws_backup_never_protected_is_observed_unprotected() {
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/forgotten");
    let encoded = table.replace(':', "%3A").replace('/', "%2F");
    let (aws, _, ctx) = replay(vec![backup_error(
        &format!("/resources/{encoded}"),
        404,
        "ResourceNotFoundException",
        "Resource not found",
    )]);
    let obs = observe(&BackupProbe::new(aws), &table, &ctx).await;
    assert_eq!(fact(&obs, "backup.protected"), false);
    assert_eq!(fact(&obs, "backup.last_recovery_point"), &Value::Null);
    assert_eq!(fact(&obs, "restore.last_validated_ok"), &Value::Null);
    assert_eq!(fact(&obs, "recovery_point.count"), 0);
}

/// The wrong answer this prevents: the children of a composite restore counted as several
/// restores (and the region's history listed again for every vault).
#[tokio::test]
async fn backup_composite_restore_counts_once_and_the_region_history_is_read_once() {
    let mut parent = restore_job("parent", "COMPLETED", 5.0, Some("prod"), 1);
    parent["IsParent"] = json!(true);
    let mut jobs = vec![parent];
    for n in 0..2 {
        let mut child = restore_job(&format!("child-{n}"), "COMPLETED", 5.0, Some("prod"), 1);
        child["ParentJobId"] = json!("parent");
        jobs.push(child);
    }
    jobs.push(restore_job("other", "COMPLETED", 2.0, Some("dr"), 2));
    // A composite restore whose parent FAILED: its child that completed proves nothing.
    let mut failed_parent = restore_job("p2", "FAILED", 1.0, Some("prod"), 1);
    failed_parent["IsParent"] = json!(true);
    let mut orphan = restore_job("p2-child", "COMPLETED", 1.0, Some("prod"), 1);
    orphan["ParentJobId"] = json!("p2");
    jobs.push(orphan);
    // A child whose parent is in neither listing: not counted on its own either.
    let mut stray = restore_job("p3-child", "COMPLETED", 0.5, Some("prod"), 1);
    stray["ParentJobId"] = json!("p3");
    jobs.push(stray);
    let mut events = vault_with_points(
        "prod",
        vec![recovery_point("prod", 1, 5.0, "COMPLETED", true)],
    );
    events.push(restore_jobs_page(jobs, None, None));
    events.push(recent_jobs_page(vec![failed_parent]));
    // The second vault: no second ListRestoreJobs (the replay would refuse an extra request).
    events.extend(vault_with_points(
        "dr",
        vec![recovery_point("dr", 2, 5.0, "COMPLETED", true)],
    ));
    let (aws, client, ctx) = replay(events);
    let probe = BackupProbe::new(aws);
    let prod = observe(&probe, "prod", &ctx).await;
    assert_eq!(fact(&prod, "restore.completed_in_window"), 1);
    assert_eq!(
        prod.evidence["restore_jobs"]["composite_children_folded"],
        4
    );
    assert_eq!(
        fact(&prod, "restore.age_days"),
        5,
        "the completed parent, not p2's child"
    );
    assert_eq!(
        fact(&prod, "restore.last_status"),
        "FAILED",
        "p2, the newest job"
    );
    let dr = observe(&probe, "dr", &ctx).await;
    assert_eq!(fact(&dr, "restore.completed_in_window"), 1);
    assert_eq!(fact(&dr, "restore.age_days"), 2);
    assert!(
        dr.evidence["api_calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "backup:ListRestoreJobs"),
        "the shared listing stays in each vault's evidence"
    );
    // Read once for the region: its two filtered listings, not again for the second vault.
    let listings = uris(&client)
        .iter()
        .filter(|u| u.contains("/restore-jobs"))
        .count();
    assert_eq!(listings, 2);
}

#[tokio::test]
async fn backup_protected_star_lists_every_protected_resource_over_pages() {
    let arn = |t: &str| format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}");
    let (aws, client, ctx) = replay(vec![
        backup_ok(
            "/resources?maxResults=1000",
            json!({"Results": [
                {"ResourceArn": arn("orders"), "ResourceType": "DynamoDB", "LastBackupTime": epoch_days_ago(1.0)},
            ], "NextToken": "more"}),
        ),
        backup_ok(
            "/resources?maxResults=1000&nextToken=more",
            json!({"Results": [
                {"ResourceArn": arn("carts"), "ResourceType": "DynamoDB", "LastBackupTime": epoch_days_ago(1.0)},
            ]}),
        ),
    ]);
    let probe = BackupProbe::new(aws);
    assert!(probe.is_pattern("protected:*"));
    let found = probe.discover("protected:*", &ctx).await.unwrap();
    assert_eq!(found, [arn("carts"), arn("orders")]);
    assert!(uris(&client)[1].contains("nextToken=more"));
}

/// The built-in controls, loaded as `vouch check` loads them.
fn builtin_control(registry: &Registry, id: &str) -> vouch::control::Control {
    let mut diags = vouch::diag::Diagnostics::new();
    vouch::control::load_controls(
        &vouch::control::builtin::sources(),
        registry,
        None,
        &mut diags,
    )
    .into_iter()
    .find(|c| c.id == id)
    .unwrap()
}

/// The wrong answers this prevents: a read replica failing Multi-AZ and backup retention (it
/// takes both from its source), and a stopped database failing the PITR lag (its restorable
/// time stands still while stopped) — noise that trains users to waive.
#[tokio::test]
async fn rds_read_replicas_and_stopped_instances_are_not_applicable_on_moto() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let source = unique("src-db");
    let replica = unique("replica-db");
    let stopped = unique("stopped-db");
    for id in [&source, &stopped] {
        create_instance(
            &rds,
            Db {
                id,
                multi_az: true,
                public: false,
                encrypted: true,
                retention: 7,
                deletion_protection: true,
            },
        )
        .await;
    }
    rds.create_db_instance_read_replica()
        .db_instance_identifier(&replica)
        .source_db_instance_identifier(&source)
        .send()
        .await
        .unwrap();
    rds.stop_db_instance()
        .db_instance_identifier(&stopped)
        .send()
        .await
        .unwrap();
    let probe = RdsProbe::new(moto_aws());
    let ctx = ctx_for(REGION, Some(&url));
    let registry = registry_with("aws.rds", moto_aws());
    let multi_az = builtin_control(&registry, "INFRA-MULTI-AZ");
    let pitr = builtin_control(&registry, "BACKUP-RDS-PITR");
    let now = jiff::Timestamp::now();

    let obs = observe(&probe, &replica, &ctx).await;
    assert!(
        fact(&obs, "replica_of").as_str().unwrap().contains(&source),
        "{:?}",
        obs.facts
    );
    for c in [&multi_az, &pitr] {
        let r = engine::evaluate(c, &obs, None, now);
        assert_eq!(r.verdict, vouch::expect::Verdict::NotApplicable, "{r:?}");
    }
    let obs = observe(&probe, &stopped, &ctx).await;
    assert_eq!(fact(&obs, "status"), "stopped");
    assert_eq!(fact(&obs, "replica_of"), &Value::Null);
    let r = engine::evaluate(&pitr, &obs, None, now);
    assert_eq!(r.verdict, vouch::expect::Verdict::NotApplicable, "{r:?}");
    // The source is judged as usual.
    let obs = observe(&probe, &source, &ctx).await;
    assert_eq!(fact(&obs, "replica_of"), &Value::Null);
    let r = engine::evaluate(&multi_az, &obs, None, now);
    assert_eq!(r.verdict, vouch::expect::Verdict::Pass, "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Backup coverage (`coverage:*`) and restore testing plans (`region:*`)

/// The wrong answer this prevents: a coverage population that silently misses a kind of data
/// store (a table, a file system, a cluster) or counts an Aurora member twice, so a store no
/// backup plan covers is never examined.
#[tokio::test]
async fn backup_coverage_on_moto_lists_every_database_cluster_table_and_file_system() {
    // The home region: an RDS resource elsewhere would show up (by ARN) in the snapshot tests'
    // all-region listings. Other tests' resources may be here too: ours must all be found.
    let region = REGION;
    let url = moto_url();
    let cfg = seed_config(&url, region).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let source = unique("cov-db");
    let replica = unique("cov-replica");
    let cluster = unique("cov-aurora");
    create_instance(
        &rds,
        Db {
            id: &source,
            multi_az: false,
            public: false,
            encrypted: true,
            retention: 7,
            deletion_protection: false,
        },
    )
    .await;
    rds.create_db_instance_read_replica()
        .db_instance_identifier(&replica)
        .source_db_instance_identifier(&source)
        .send()
        .await
        .unwrap();
    create_cluster(&rds, &cluster, &[("eu-west-1a", false)]).await;
    let table = unique("cov-table");
    create_table(&aws_sdk_dynamodb::Client::new(&cfg), &table, None::<&str>).await;
    let fs = aws_sdk_efs::Client::new(&cfg)
        .create_file_system()
        .creation_token(unique("cov-efs"))
        .encrypted(true)
        .send()
        .await
        .unwrap()
        .file_system_id;

    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.aws.endpoint_url = Some(url.clone());
    inv.aws.regions = Some(vec![region.into()]);
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let probe = BackupProbe::new(moto_aws());
    assert!(probe.is_pattern("coverage:*"));
    let found = probe.discover("coverage:*", &ctx).await.unwrap();
    let account = "123456789012"; // moto's
    let expected = [
        format!("arn:aws:rds:{region}:{account}:cluster:{cluster}"),
        format!("arn:aws:rds:{region}:{account}:db:{source}"),
        format!("arn:aws:rds:{region}:{account}:db:{replica}"),
        format!("arn:aws:dynamodb:{region}:{account}:table/{table}"),
        format!("arn:aws:elasticfilesystem:{region}:{account}:file-system/{fs}"),
    ];
    // The server may hold an earlier run's resources in this region: ours are all there.
    for arn in &expected {
        assert!(found.contains(arn), "{arn} missing from {found:#?}");
    }
    let member = format!("arn:aws:rds:{region}:{account}:db:{cluster}-0");
    assert!(
        !found.contains(&member),
        "the cluster's member is covered by its cluster, not listed again"
    );
    let unique_arns: BTreeSet<&String> = found.iter().collect();
    assert_eq!(unique_arns.len(), found.len(), "each resource once");
    let info = &ctx.run_info()[&format!("aws.backup.coverage_discovery.{region}")];
    assert_eq!(info["resources"], found.len(), "{info}");
    assert!(
        info["cluster_members_covered_by_their_cluster"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("{cluster}-0"))),
        "{info}"
    );
    // `region:*` names each scanned region.
    assert_eq!(
        probe.discover("region:*", &ctx).await.unwrap(),
        [format!("region:{region}")]
    );
}

/// DescribeDBInstances for one instance, as RDS answers it; `replica_of` names its source.
fn rds_db(id: &str, replica_of: Option<&str>) -> ReplayEvent {
    let source = replica_of
        .map(|s| {
            format!(
                "<ReadReplicaSourceDBInstanceIdentifier>{s}</ReadReplicaSourceDBInstanceIdentifier>"
            )
        })
        .unwrap_or_default();
    event(
        "POST",
        "https://rds.eu-west-1.amazonaws.com/",
        200,
        "text/xml",
        format!(
            r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>{id}</DBInstanceIdentifier>
        <DBInstanceArn>arn:aws:rds:{REGION}:{ACCOUNT}:db:{id}</DBInstanceArn>
        <Engine>postgres</Engine>
        <DBInstanceStatus>available</DBInstanceStatus>
        <DBInstanceClass>db.m6g.large</DBInstanceClass>
        <BackupRetentionPeriod>7</BackupRetentionPeriod>
        <MultiAZ>true</MultiAZ>
        <PubliclyAccessible>false</PubliclyAccessible>
        <StorageEncrypted>true</StorageEncrypted>
        {source}
      </DBInstance>
    </DBInstances>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>"#,
            unique("req")
        ),
    )
}

/// DescribeProtectedResource, then the resource's vault, recovery points and restore jobs.
fn protected_resource(arn: &str, kind: &str, last_backup_days: f64) -> Vec<ReplayEvent> {
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    vec![
        backup_ok(
            &format!("/resources/{encoded}"),
            json!({
                "ResourceArn": arn,
                "ResourceType": kind,
                "LastBackupTime": epoch_days_ago(last_backup_days),
                "LastBackupVaultArn": vault_arn("prod"),
                "LastRecoveryPointArn": rp_arn(9),
            }),
        ),
        describe_vault("prod", true),
        backup_ok(
            &format!("/resources/{encoded}/recovery-points"),
            json!({"RecoveryPoints": [
                {"RecoveryPointArn": rp_arn(9), "CreationDate": epoch_days_ago(last_backup_days),
                 "Status": "COMPLETED", "EncryptionKeyArn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/k"),
                 "BackupVaultName": "prod"},
            ]}),
        ),
        backup_ok(
            &format!("/resources/{encoded}/restore-jobs"),
            json!({"RestoreJobs": []}),
        ),
    ]
}

fn never_protected(arn: &str) -> ReplayEvent {
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    backup_error(
        &format!("/resources/{encoded}"),
        404,
        "ResourceNotFoundException",
        "Resource not found",
    )
}

/// The wrong answers this prevents: a database no backup plan covers passing (or being an
/// `error` nobody reads) because the restore controls only look at what AWS Backup already
/// protects; a resource whose last backup is days old passing; and a read replica (backed up
/// through its source) failing as noise.
#[tokio::test]
async fn backup_coverage_fails_the_unprotected_and_the_stale_and_scopes_out_read_replicas() {
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders");
    let fs = format!("arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/fs-0123abcd");
    let forgotten = format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:forgotten");
    let replica = format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:reporting-replica");
    let mut events = protected_resource(&table, "DynamoDB", 0.5);
    events.extend(protected_resource(&fs, "EFS", 5.0));
    events.push(never_protected(&forgotten));
    events.push(rds_db("forgotten", None));
    events.push(never_protected(&replica));
    events.push(rds_db("reporting-replica", Some("forgotten")));
    let (aws, client, ctx) = replay(events);
    let probe = BackupProbe::new(aws.clone());
    let fresh = observe(&probe, &table, &ctx).await;
    let stale = observe(&probe, &fs, &ctx).await;
    let unprotected = observe(&probe, &forgotten, &ctx).await;
    let replica_obs = observe(&probe, &replica, &ctx).await;
    assert_eq!(fact(&fresh, "backup.protected"), true);
    assert_eq!(fact(&fresh, "resource.replica_of"), &Value::Null);
    assert_eq!(fact(&unprotected, "backup.protected"), false);
    assert_eq!(fact(&unprotected, "resource.replica_of"), &Value::Null);
    assert_eq!(fact(&replica_obs, "resource.replica_of"), "forgotten");
    // Only RDS ARNs cost the extra DescribeDBInstances call.
    let sent = uris(&client);
    assert_eq!(
        sent.iter().filter(|u| u.contains("rds.")).count(),
        2,
        "{sent:#?}"
    );

    let registry = registry_with("aws.backup", aws);
    let control = builtin_control(&registry, "BACKUP-COVERAGE");
    let now = jiff::Timestamp::now();
    let verdict = |obs: &Observation| engine::evaluate(&control, obs, None, now);
    assert_eq!(verdict(&fresh).verdict, vouch::expect::Verdict::Pass);
    let r = verdict(&stale);
    assert_eq!(r.verdict, vouch::expect::Verdict::Fail, "{r:?}");
    assert_eq!(r.checks[1].fact, "backup.last_recovery_point");
    let r = verdict(&unprotected);
    assert_eq!(
        r.verdict,
        vouch::expect::Verdict::Fail,
        "not protected is a fail, never an error: {r:?}"
    );
    assert_eq!(r.checks[0].fact, "backup.protected");
    assert_eq!(
        verdict(&replica_obs).verdict,
        vouch::expect::Verdict::NotApplicable
    );
}

fn protected_list(arns: &[&str]) -> ReplayEvent {
    backup_ok(
        "/resources?maxResults=1000",
        json!({"Results": arns.iter().map(|a| json!({
            "ResourceArn": a, "ResourceType": "DynamoDB", "LastBackupTime": epoch_days_ago(1.0)
        })).collect::<Vec<_>>()}),
    )
}

/// ListRestoreTestingPlans as the AWS Backup API reference gives it.
fn testing_plans(names: &[&str], next: Option<&str>) -> ReplayEvent {
    let mut body = json!({"RestoreTestingPlans": names.iter().map(|n| json!({
        "CreationTime": epoch_days_ago(200.0),
        "LastExecutionTime": epoch_days_ago(6.0),
        "LastUpdateTime": epoch_days_ago(100.0),
        "RestoreTestingPlanArn": format!("arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:{n}-8b5a7c1d"),
        "RestoreTestingPlanName": n,
        "ScheduleExpression": "cron(0 5 ? * 1 *)",
        "ScheduleExpressionTimezone": "Etc/UTC",
        "StartWindowHours": 24,
    })).collect::<Vec<_>>()});
    if let Some(n) = next {
        body["NextToken"] = json!(n);
    }
    backup_ok("/restore-testing/plans?MaxResults=1000", body)
}

/// ListRestoreTestingSelections of one plan, as the AWS Backup API reference gives it.
fn testing_selections(plan: &str, names: &[&str]) -> ReplayEvent {
    backup_ok(
        &format!("/restore-testing/plans/{plan}/selections?MaxResults=1000"),
        json!({"RestoreTestingSelections": names.iter().map(|n| json!({
            "CreationTime": epoch_days_ago(150.0),
            "IamRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"),
            "ProtectedResourceType": "DynamoDB",
            "RestoreTestingPlanName": plan,
            "RestoreTestingSelectionName": n,
            "ValidationWindowHours": 2,
        })).collect::<Vec<_>>()}),
    )
}

/// The wrong answers this prevents: a region holding backups with no restore testing plan
/// passing, a plan on a second page missed, a plan whose selections pick nothing passing (it
/// restores nothing), and a region where AWS Backup protects nothing failing as noise.
#[tokio::test]
async fn backup_restore_testing_plan_is_required_where_resources_are_protected() {
    let orders = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders");
    let (aws, client, ctx) = replay(vec![
        // 1. protected resources, no plan
        protected_list(&[&orders]),
        testing_plans(&[], None),
        // 2. protected resources, a plan on the second page that selects the tables
        protected_list(&[&orders]),
        testing_plans(&[], Some("more")),
        testing_plans(&["weekly_restores"], None),
        testing_selections("weekly_restores", &["dynamodb_tables"]),
        // 3. protected resources, a plan that selects nothing
        protected_list(&[&orders]),
        testing_plans(&["empty_plan"], None),
        testing_selections("empty_plan", &[]),
        // 4. nothing protected
        protected_list(&[]),
        testing_plans(&[], None),
    ]);
    let probe = BackupProbe::new(aws.clone());
    let target = format!("region:{REGION}");
    let none = observe(&probe, &target, &ctx).await;
    let paged = observe(&probe, &target, &ctx).await;
    let selects_nothing = observe(&probe, &target, &ctx).await;
    let empty = observe(&probe, &target, &ctx).await;
    assert_eq!(fact(&none, "region.protected_resources"), 1);
    assert_eq!(fact(&none, "restore_testing.plans"), 0);
    assert_eq!(fact(&none, "restore_testing.selections"), 0);
    assert_eq!(fact(&paged, "restore_testing.plans"), 1);
    assert_eq!(fact(&paged, "restore_testing.selections"), 1);
    assert_eq!(
        paged.evidence["restore_testing_plans"][0]["name"],
        "weekly_restores"
    );
    assert_eq!(
        paged.evidence["restore_testing_plans"][0]["selections"][0]["resource_type"],
        "DynamoDB"
    );
    assert_eq!(fact(&selects_nothing, "restore_testing.plans"), 1);
    assert_eq!(fact(&selects_nothing, "restore_testing.selections"), 0);
    let sent = uris(&client);
    assert!(sent[4].contains("NextToken=more"), "{sent:#?}");
    assert!(
        sent[5].contains("/restore-testing/plans/weekly_restores/selections"),
        "{sent:#?}"
    );
    let registry = registry_with("aws.backup", aws);
    let control = builtin_control(&registry, "BACKUP-RESTORE-TESTING-PLAN");
    let now = jiff::Timestamp::now();
    let verdict = |obs: &Observation| engine::evaluate(&control, obs, None, now).verdict;
    assert_eq!(verdict(&none), vouch::expect::Verdict::Fail);
    assert_eq!(verdict(&paged), vouch::expect::Verdict::Pass);
    assert_eq!(
        verdict(&selects_nothing),
        vouch::expect::Verdict::Fail,
        "a plan that selects nothing tests nothing"
    );
    assert_eq!(verdict(&empty), vouch::expect::Verdict::NotApplicable);
    assert!(probe.check_target("region:eu-west-1").is_ok());
    assert!(probe.check_target("region:Nowhere").is_err());
}
