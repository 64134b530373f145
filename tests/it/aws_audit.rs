//! The audit-logging, identity, threat-detection and edge probes (`aws.cloudtrail`, `aws.logs`,
//! `aws.iam`, `aws.guardduty`, `aws.wafv2`) against moto's server for what it implements, and
//! against the SDK's own replay HTTP client (responses written from the AWS API reference, so
//! the real deserialisers run) for what it does not: the Account API's ListRegions, a trail
//! that never delivered or fails to, a denied secondary call, a credential report with the root
//! user's row. Each test works in an account of its own (moto ties AssumeRole credentials to
//! the role's account), so tests neither see nor disturb each other's resources.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use vouch::inventory::Inventory;
use vouch::probe::aws::cloudtrail::CloudTrailProbe;
use vouch::probe::aws::guardduty::GuardDutyProbe;
use vouch::probe::aws::iam::IamProbe;
use vouch::probe::aws::logs::LogsProbe;
use vouch::probe::aws::wafv2::Wafv2Probe;
use vouch::probe::aws::{Aws, AwsOverrides};
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeErrorKind, ProbeOptions};

use crate::support::{self, require, vouch};

// ---------------------------------------------------------------------------------------------
// moto: one fresh account per test

fn moto_url() -> String {
    require(
        std::env::var("VOUCH_TEST_MOTO_URL").ok(),
        "moto's server (VOUCH_TEST_MOTO_URL)",
        "source scripts/setup.d/30-moto.sh to install and start it",
    )
}

/// A 12-digit account id no other test (or earlier run against the same server) has used.
fn fresh_account_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mixed = nanos
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(n.wrapping_mul(1_442_695_040_888_963_407))
        ^ u64::from(std::process::id());
    format!("{}", 100_000_000_000 + mixed % 899_999_999_999)
}

struct Account {
    url: String,
    id: String,
    region: String,
    creds: Credentials,
}

impl Account {
    /// Credentials of a new, empty account in moto: AssumeRole into a role of that account.
    async fn fresh(region: &str) -> Account {
        let url = moto_url();
        let id = fresh_account_id();
        let base = sdk(
            &url,
            region,
            Credentials::new("testing", "testing", None, None, "moto"),
        )
        .await;
        let out = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/vouch-audit"))
            .role_session_name("vouch-test")
            .send()
            .await
            .expect("moto AssumeRole");
        let c = out.credentials().expect("AssumeRole credentials");
        Account {
            url,
            id,
            region: region.to_string(),
            creds: Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "moto-assumed",
            ),
        }
    }

    /// An SDK configuration for seeding this account (in `region`).
    async fn sdk_in(&self, region: &str) -> SdkConfig {
        sdk(&self.url, region, self.creds.clone()).await
    }

    async fn sdk(&self) -> SdkConfig {
        self.sdk_in(&self.region).await
    }

    /// An S3 client for seeding, path-style (the emulator has no bucket host names).
    fn s3(cfg: &SdkConfig) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(cfg)
                .force_path_style(true)
                .build(),
        )
    }

    /// The factory the probes use, with this account's credentials.
    fn aws(&self) -> Arc<Aws> {
        Aws::with_overrides(AwsOverrides {
            credentials: Some(SharedCredentialsProvider::new(self.creds.clone())),
            ..AwsOverrides::default()
        })
    }

    fn ctx(&self) -> ProbeContext {
        let mut inv = Inventory::default();
        inv.aws.endpoint_url = Some(self.url.clone());
        inv.aws.region = Some(self.region.clone());
        ProbeContext::new(Arc::new(inv), ProbeOptions::default())
    }

    /// A `vouch` command that uses this account (credentials in the environment, nothing
    /// from the machine's own AWS configuration).
    fn vouch(&self) -> assert_cmd::Command {
        let mut cmd = vouch();
        cmd.env("AWS_ACCESS_KEY_ID", self.creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", self.creds.secret_access_key())
            .env("AWS_SESSION_TOKEN", self.creds.session_token().unwrap())
            .env("AWS_REGION", &self.region)
            .env("AWS_CONFIG_FILE", "/nonexistent/vouch-test-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/vouch-test-credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL");
        cmd
    }
}

async fn sdk(url: &str, region: &str, creds: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(creds)
        .load()
        .await
}

fn params(v: Value) -> Params {
    v.as_object().cloned().unwrap_or_default()
}

fn fact<'a>(obs: &'a Observation, path: &str) -> &'a Value {
    support::assert_iam_policy_allows(&serde_json::to_value(&obs.evidence).unwrap());
    obs.facts
        .get(path)
        .unwrap_or_else(|| panic!("{path} not observed: {:?}", obs.unobserved.get(path)))
}

fn actions(obs: &Observation) -> Vec<String> {
    support::assert_iam_policy_allows(&serde_json::to_value(&obs.evidence).unwrap());
    obs.evidence["api_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// aws.cloudtrail against moto

#[tokio::test(flavor = "multi_thread")]
async fn cloudtrail_star_finds_every_trail_and_reads_each_ones_logging_and_selectors() {
    use aws_sdk_cloudtrail::types::{
        AdvancedEventSelector, AdvancedFieldSelector, EventSelector, ReadWriteType,
    };
    let acct = Account::fresh("us-east-1").await;
    let cfg = acct.sdk().await;
    let s3 = Account::s3(&cfg);
    let bucket = format!("audit-{}", acct.id);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let ct = aws_sdk_cloudtrail::Client::new(&cfg);
    let key = format!("arn:aws:kms:us-east-1:{}:key/1234abcd", acct.id);

    // The account's real audit trail: everything on, all management events.
    ct.create_trail()
        .name("org-audit")
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .kms_key_id(&key)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("org-audit").send().await.unwrap();
    ct.put_event_selectors()
        .trail_name("org-audit")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A debugging trail: one region, never started, write events only (advanced selectors).
    ct.create_trail()
        .name("app-debug")
        .s3_bucket_name(&bucket)
        .send()
        .await
        .unwrap();
    ct.put_event_selectors()
        .trail_name("app-debug")
        .advanced_event_selectors(
            AdvancedEventSelector::builder()
                .name("writes")
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("eventCategory")
                        .equals("Management")
                        .build()
                        .unwrap(),
                )
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("readOnly")
                        .equals("false")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // A trail that skips KMS events to save money.
    ct.create_trail()
        .name("no-kms")
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    ct.put_event_selectors()
        .trail_name("no-kms")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .exclude_management_event_sources("kms.amazonaws.com")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let probe = CloudTrailProbe::new(acct.aws());
    let ctx = acct.ctx();
    let arn = |n: &str| format!("arn:aws:cloudtrail:us-east-1:{}:trail/{n}", acct.id);
    let found = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(
        found,
        vec![arn("app-debug"), arn("no-kms"), arn("org-audit")]
    );

    let audit = probe
        .observe(&arn("org-audit"), &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&audit, "trail.multi_region"), &json!(true));
    assert_eq!(fact(&audit, "trail.logging"), &json!(true));
    assert_eq!(fact(&audit, "trail.log_file_validation"), &json!(true));
    assert_eq!(fact(&audit, "trail.kms_key_id"), &json!(key));
    assert_eq!(fact(&audit, "trail.management_events"), &json!(true));
    assert_eq!(fact(&audit, "trail.management_events_scope"), &json!("All"));
    assert_eq!(fact(&audit, "trail.management_events_excluded"), &json!([]));
    assert_eq!(fact(&audit, "trail.s3_bucket"), &json!(bucket));
    assert!(fact(&audit, "trail.latest_delivery").is_string());
    // Status and selectors are asked concurrently: the evidence lists them as they completed.
    let mut made = actions(&audit);
    made.sort();
    assert_eq!(
        made,
        vec![
            "cloudtrail:GetEventSelectors",
            "cloudtrail:GetTrail",
            "cloudtrail:GetTrailStatus"
        ]
    );
    assert!(
        audit.evidence["api_calls"][0]["request_id"].is_string(),
        "each call keeps its request id"
    );

    let debug = probe
        .observe(&arn("app-debug"), &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&debug, "trail.multi_region"), &json!(false));
    assert_eq!(fact(&debug, "trail.logging"), &json!(false));
    assert_eq!(fact(&debug, "trail.log_file_validation"), &json!(false));
    assert_eq!(fact(&debug, "trail.kms_key_id"), &Value::Null);
    assert_eq!(fact(&debug, "trail.management_events"), &json!(false));
    assert_eq!(
        fact(&debug, "trail.management_events_scope"),
        &json!("WriteOnly")
    );

    let no_kms = probe.observe("no-kms", &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&no_kms, "trail.management_events"), &json!(true));
    assert_eq!(
        fact(&no_kms, "trail.management_events_excluded"),
        &json!(["kms.amazonaws.com"])
    );

    let missing = probe
        .observe("no-such-trail", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ProbeErrorKind::NotFound, "{missing:?}");
    assert!(missing.hint.is_some());
    assert!(
        probe.render(&audit).unwrap().contains("management events"),
        "the spot-check table lists the facts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudtrail_star_in_an_account_without_trails_finds_an_empty_population() {
    let acct = Account::fresh("us-east-1").await;
    let probe = CloudTrailProbe::new(acct.aws());
    let found = probe.discover("*", &acct.ctx()).await.unwrap();
    assert!(found.is_empty(), "{found:?}");
}

// ---------------------------------------------------------------------------------------------
// aws.logs against moto

#[tokio::test(flavor = "multi_thread")]
async fn logs_star_reads_every_group_from_the_listing_pages_alone() {
    let acct = Account::fresh("us-east-1").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&acct.sdk().await);
    let key = format!("arn:aws:kms:us-east-1:{}:key/5678", acct.id);
    for (name, days, kms) in [
        ("/sec/audit", Some(400), Some(&key)),
        ("/sec/app", Some(30), None),
        ("/sec/forever", None, None),
        ("/other/debug", Some(7), None),
        ("/other/keep", Some(3653), None),
    ] {
        logs.create_log_group()
            .log_group_name(name)
            .set_kms_key_id(kms.cloned())
            .send()
            .await
            .unwrap();
        if let Some(d) = days {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(d)
                .send()
                .await
                .unwrap();
        }
    }

    // Pages of two: five groups take three DescribeLogGroups calls, and no call per group.
    let probe = LogsProbe::new(acct.aws()).with_page_size(2);
    let ctx = acct.ctx();
    let found = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(
        found,
        vec![
            "/other/debug",
            "/other/keep",
            "/sec/app",
            "/sec/audit",
            "/sec/forever"
        ]
    );
    let p = Params::new();
    let mut request_ids = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeMap::new();
    for name in &found {
        let obs = probe.observe(name, &p, &ctx).await.unwrap();
        let calls = obs.evidence["api_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1, "{name}: the page it was listed on");
        assert_eq!(
            calls[0]["response"]["logGroups"][0]["logGroupName"],
            json!(name),
            "the evidence is this group's own entry of the page"
        );
        request_ids.insert(calls[0]["request_id"].as_str().unwrap().to_string());
        seen.insert(name.clone(), obs);
    }
    assert_eq!(request_ids.len(), 3, "three pages, one request each");

    let audit = &seen["/sec/audit"];
    assert_eq!(fact(audit, "retention_days"), &json!(400));
    assert_eq!(fact(audit, "retention.never_expires"), &json!(false));
    assert_eq!(fact(audit, "kms_key_id"), &json!(key));
    assert_eq!(fact(audit, "stored_bytes"), &json!(0));
    let forever = &seen["/sec/forever"];
    assert_eq!(fact(forever, "retention_days"), &Value::Null);
    assert_eq!(fact(forever, "retention.never_expires"), &json!(true));
    assert_eq!(fact(forever, "kms_key_id"), &Value::Null);
    let app = &seen["/sec/app"];
    assert_eq!(fact(app, "retention_days"), &json!(30));
    assert_eq!(fact(app, "retention.never_expires"), &json!(false));

    // A prefix discovers only its groups.
    assert_eq!(
        probe.discover("/sec/*", &ctx).await.unwrap(),
        vec!["/sec/app", "/sec/audit", "/sec/forever"]
    );

    // A group named directly (a fresh probe: nothing discovered) costs one call.
    let direct = LogsProbe::new(acct.aws());
    let obs = direct
        .observe("/sec/app", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&obs, "retention_days"), &json!(30));
    let arn = format!("arn:aws:logs:us-east-1:{}:log-group:/sec/audit:*", acct.id);
    let by_arn = direct.observe(&arn, &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&by_arn, "retention_days"), &json!(400));
    let missing = direct
        .observe("/sec/a", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(
        missing.kind,
        ProbeErrorKind::NotFound,
        "a prefix of real names is not a group"
    );
}

// ---------------------------------------------------------------------------------------------
// aws.iam against moto

#[tokio::test(flavor = "multi_thread")]
async fn iam_reads_the_password_policy_root_and_the_credential_report() {
    let acct = Account::fresh("us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&acct.sdk().await);
    iam.update_account_password_policy()
        .minimum_password_length(14)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .password_reuse_prevention(24)
        .max_password_age(90)
        .send()
        .await
        .unwrap();
    for user in ["alice", "bob", "ci"] {
        iam.create_user().user_name(user).send().await.unwrap();
    }
    for user in ["alice", "bob"] {
        iam.create_login_profile()
            .user_name(user)
            .password("correct-horse-battery-staple-1A!")
            .send()
            .await
            .unwrap();
    }
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("bob")
        .send()
        .await
        .unwrap();
    iam.enable_mfa_device()
        .user_name("bob")
        .serial_number(device.virtual_mfa_device().unwrap().serial_number())
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("ci")
        .send()
        .await
        .unwrap();
    let secret = key.access_key().unwrap().secret_access_key().to_string();

    let probe = IamProbe::new(acct.aws());
    let ctx = acct.ctx();
    let obs = probe
        .observe("account", &params(json!({"max_key_age_days": 90})), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&obs, "password_policy.present"), &json!(true));
    assert_eq!(fact(&obs, "password_policy.minimum_length"), &json!(14));
    for p in ["symbols", "numbers", "uppercase", "lowercase"] {
        assert_eq!(
            fact(&obs, &format!("password_policy.require_{p}")),
            &json!(true)
        );
    }
    assert_eq!(fact(&obs, "password_policy.reuse_prevention"), &json!(24));
    assert_eq!(fact(&obs, "password_policy.max_age_days"), &json!(90));
    assert_eq!(fact(&obs, "root.mfa_enabled"), &json!(false));
    assert_eq!(fact(&obs, "root.access_keys"), &json!(false));
    assert_eq!(fact(&obs, "users.count"), &json!(3));
    // moto answers the first GenerateCredentialReport with STARTED: the probe polled.
    let generate_calls = actions(&obs)
        .iter()
        .filter(|a| *a == "iam:GenerateCredentialReport")
        .count();
    assert!(generate_calls >= 2, "{:?}", actions(&obs));
    assert_eq!(fact(&obs, "users.console_without_mfa"), &json!(["alice"]));
    assert_eq!(fact(&obs, "users.stale_access_keys"), &json!([]));
    // Set today and never used: not yet unused (counted from when they were set).
    assert_eq!(fact(&obs, "users.unused_credentials"), &json!([]));
    assert!(
        obs.attachments
            .iter()
            .any(|a| a.name == "credential-report.csv" && a.content.contains("alice"))
    );
    let text = serde_json::to_string(&obs).unwrap();
    assert!(!text.contains(&secret), "no secret key in the observation");

    // A key is stale only past the parameter: with -1 days, today's key is already too old.
    let strict = probe
        .observe("account", &params(json!({"max_key_age_days": -1})), &ctx)
        .await
        .unwrap();
    assert_eq!(
        fact(&strict, "users.stale_access_keys"),
        &json!(["ci/key1"])
    );
    // Unused past the parameter: with -1 days, every enabled credential (passwords of alice
    // and bob, ci's key) is unused; ci has no password and is not counted for one.
    let idle = probe
        .observe("account", &params(json!({"max_unused_days": -1})), &ctx)
        .await
        .unwrap();
    assert_eq!(
        fact(&idle, "users.unused_credentials"),
        &json!(["alice/password", "bob/password", "ci/key1"])
    );

    // The account id works as a target; another account's id is refused, not observed.
    assert!(probe.observe(&acct.id, &Params::new(), &ctx).await.is_ok());
    let other = probe
        .observe("999999999999", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert!(other.message.contains(&acct.id), "{other:?}");
    let star = probe.observe("*", &Params::new(), &ctx).await.unwrap_err();
    assert_eq!(star.kind, ProbeErrorKind::InvalidTarget);
    assert!(probe.render(&obs).unwrap().contains(&acct.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_without_a_password_policy_observes_its_absence() {
    let acct = Account::fresh("us-east-1").await;
    let probe = IamProbe::new(acct.aws());
    let obs = probe
        .observe("account", &Params::new(), &acct.ctx())
        .await
        .unwrap();
    assert_eq!(fact(&obs, "password_policy.present"), &json!(false));
    assert_eq!(fact(&obs, "password_policy.minimum_length"), &Value::Null);
    assert_eq!(fact(&obs, "password_policy.require_symbols"), &json!(false));
    assert_eq!(fact(&obs, "users.count"), &json!(0));
    assert_eq!(fact(&obs, "users.console_without_mfa"), &json!([]));
}

// ---------------------------------------------------------------------------------------------
// aws.guardduty and aws.wafv2 against moto

#[tokio::test(flavor = "multi_thread")]
async fn guardduty_reports_the_detector_of_each_region_and_its_absence() {
    let acct = Account::fresh("us-east-1").await;
    let gd = aws_sdk_guardduty::Client::new(&acct.sdk_in("eu-west-1").await);
    let id = gd
        .create_detector()
        .enable(true)
        .finding_publishing_frequency(
            aws_sdk_guardduty::types::FindingPublishingFrequency::FifteenMinutes,
        )
        .send()
        .await
        .unwrap()
        .detector_id()
        .unwrap()
        .to_string();
    let probe = GuardDutyProbe::new(acct.aws());
    let ctx = acct.ctx();
    let on = probe
        .observe("eu-west-1", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&on, "detector.enabled"), &json!(true));
    assert_eq!(fact(&on, "detector.id"), &json!(id));
    assert_eq!(
        fact(&on, "detector.finding_publishing_frequency"),
        &json!("FIFTEEN_MINUTES")
    );
    assert_eq!(on.evidence["region"], json!("eu-west-1"));
    let off = probe
        .observe("us-east-1", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&off, "detector.enabled"), &json!(false));
    assert_eq!(
        fact(&off, "detector.finding_publishing_frequency"),
        &Value::Null
    );
    // No detector: no findings looked at (null, not 0).
    assert_eq!(fact(&off, "findings.high_open"), &Value::Null);
    // EventBridge against moto: no rule routes findings, then one that does.
    assert_eq!(fact(&on, "findings.routed"), &json!(false));
    let events = aws_sdk_eventbridge::Client::new(&acct.sdk_in("eu-west-1").await);
    events
        .put_rule()
        .name("guardduty-findings")
        .event_pattern(r#"{"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("guardduty-findings")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("pager")
                .arn(format!("arn:aws:sns:eu-west-1:{}:pager", acct.id))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let routed = probe
        .observe("eu-west-1", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&routed, "findings.routed"), &json!(true));
    let bad = probe
        .observe("mars-1", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(bad.kind, ProbeErrorKind::InvalidTarget);
}

pub(crate) mod aws_sdk_ec2_free {
    //! moto needs subnets for a load balancer; made with a raw EC2 Query call so the tests
    //! need no EC2 SDK crate (the largest of them all).
    use aws_config::SdkConfig;

    pub async fn vpc_subnets(cfg: &SdkConfig) -> Vec<String> {
        let vpc = query(
            cfg,
            "ec2",
            "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&Version=2016-11-15",
        )
        .await;
        let vpc_id = between(&vpc, "<vpcId>", "</vpcId>");
        let region = cfg.region().unwrap().to_string();
        let mut subnets = Vec::new();
        for (i, az) in ["a", "b"].iter().enumerate() {
            let body = format!(
                "Action=CreateSubnet&VpcId={vpc_id}&CidrBlock=10.0.{i}.0%2F24&AvailabilityZone={region}{az}&Version=2016-11-15"
            );
            let out = query(cfg, "ec2", &body).await;
            subnets.push(between(&out, "<subnetId>", "</subnetId>"));
        }
        subnets
    }

    pub fn between(text: &str, start: &str, end: &str) -> String {
        let from = text
            .find(start)
            .unwrap_or_else(|| panic!("{start} in {text}"))
            + start.len();
        let to = text[from..].find(end).unwrap() + from;
        text[from..to].to_string()
    }

    /// One form-encoded Query API call to moto (moto does not check signatures).
    pub async fn query(cfg: &SdkConfig, service: &str, body: &str) -> String {
        let url = cfg.endpoint_url().unwrap().to_string();
        let region = cfg.region().unwrap().to_string();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            access_key(cfg).await
        );
        let client = reqwest::Client::new();
        let resp = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", auth)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{service} {body}: {status} {text}");
        text
    }

    async fn access_key(cfg: &SdkConfig) -> String {
        use aws_credential_types::provider::ProvideCredentials;
        cfg.credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap()
            .access_key_id()
            .to_string()
    }
}

mod aws_sdk_elasticloadbalancingv2_free {
    use super::aws_sdk_ec2_free::{between, query};
    use aws_config::SdkConfig;

    pub async fn create(cfg: &SdkConfig, name: &str, subnets: &[String]) -> String {
        let mut body = format!("Action=CreateLoadBalancer&Name={name}&Version=2015-12-01");
        for (i, s) in subnets.iter().enumerate() {
            body.push_str(&format!("&Subnets.member.{}={s}", i + 1));
        }
        let out = query(cfg, "elasticloadbalancing", &body).await;
        between(&out, "<LoadBalancerArn>", "</LoadBalancerArn>")
    }
}

fn visibility() -> aws_sdk_wafv2::types::VisibilityConfig {
    aws_sdk_wafv2::types::VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name("vouch")
        .build()
        .unwrap()
}

/// A web ACL with AWS's common rule set and, when `rate`, a rate-based rule. Returns its ARN.
async fn web_acl(
    waf: &aws_sdk_wafv2::Client,
    name: &str,
    scope: aws_sdk_wafv2::types::Scope,
    rate: bool,
) -> String {
    use aws_sdk_wafv2::types::*;
    let mut rules = vec![
        Rule::builder()
            .name("common")
            .priority(1)
            .statement(
                Statement::builder()
                    .managed_rule_group_statement(
                        ManagedRuleGroupStatement::builder()
                            .vendor_name("AWS")
                            .name("AWSManagedRulesCommonRuleSet")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .override_action(
                OverrideAction::builder()
                    .none(NoneAction::builder().build())
                    .build(),
            )
            .visibility_config(visibility())
            .build()
            .unwrap(),
    ];
    if rate {
        rules.push(
            Rule::builder()
                .name("flood")
                .priority(2)
                .statement(
                    Statement::builder()
                        .rate_based_statement(
                            RateBasedStatement::builder()
                                .limit(1000)
                                .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .action(
                    RuleAction::builder()
                        .block(BlockAction::builder().build())
                        .build(),
                )
                .visibility_config(visibility())
                .build()
                .unwrap(),
        );
    }
    waf.create_web_acl()
        .name(name)
        .scope(scope)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(visibility())
        .set_rules(Some(rules))
        .send()
        .await
        .unwrap()
        .summary()
        .unwrap()
        .arn()
        .unwrap()
        .to_string()
}

/// Seeds the edge of an account: a load balancer protected by a web ACL (AWS's common rule set
/// and a rate-based rule) and a bare one, in eu-west-1. Returns (protected, bare).
/// (CloudFront is replayed instead: moto 5.0.28 writes `False` for booleans in
/// GetDistributionConfig, which the SDK refuses.)
async fn seed_edge(acct: &Account) -> (String, String) {
    let eu = acct.sdk_in("eu-west-1").await;
    let subnets = aws_sdk_ec2_free::vpc_subnets(&eu).await;
    let web = aws_sdk_elasticloadbalancingv2_free::create(&eu, "web", &subnets).await;
    let bare = aws_sdk_elasticloadbalancingv2_free::create(&eu, "bare", &subnets).await;
    let waf = aws_sdk_wafv2::Client::new(&eu);
    let acl = web_acl(&waf, "edge", aws_sdk_wafv2::types::Scope::Regional, true).await;
    waf.associate_web_acl()
        .web_acl_arn(&acl)
        .resource_arn(&web)
        .send()
        .await
        .unwrap();
    (web, bare)
}

#[tokio::test(flavor = "multi_thread")]
async fn wafv2_reads_the_web_acl_of_load_balancers() {
    let acct = Account::fresh("us-east-1").await;
    let (web, bare) = seed_edge(&acct).await;
    let probe = Wafv2Probe::new(acct.aws());
    let ctx = acct.ctx();

    let alb = probe.observe(&web, &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&alb, "web_acl.associated"), &json!(true));
    assert_eq!(fact(&alb, "web_acl.name"), &json!("edge"));
    assert_eq!(
        fact(&alb, "web_acl.managed_rule_groups"),
        &json!(["AWS/AWSManagedRulesCommonRuleSet"])
    );
    assert_eq!(fact(&alb, "web_acl.rate_based_rules"), &json!(1));
    assert_eq!(fact(&alb, "web_acl.default_action"), &json!("ALLOW"));
    assert_eq!(alb.evidence["region"], json!("eu-west-1"));

    let none = probe.observe(&bare, &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&none, "web_acl.associated"), &json!(false));
    assert_eq!(fact(&none, "web_acl.managed_rule_groups"), &json!([]));

    let missing = probe
        .observe("E000000000000", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ProbeErrorKind::NotFound, "{missing:?}");
}

// ---------------------------------------------------------------------------------------------
// The SDK's replay client, for what moto does not implement

const ACCOUNT: &str = "123456789012";

fn xml(body: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "11111111-2222-3333-4444-555555555555")
        .body(SdkBody::from(body))
        .unwrap()
}

fn json_response(status: u16, body: Value) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-requestid", "66666666-7777-8888-9999-000000000000")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn request(uri: &str) -> http::Request<SdkBody> {
    http::Request::builder()
        .uri(uri)
        .body(SdkBody::empty())
        .unwrap()
}

/// EC2 DescribeRegions (query protocol, XML) as the API reference shows it: without
/// `AllRegions` only the enabled regions; `(name, optInStatus)` pairs. One call, no paging.
fn describe_regions(regions: &[(&str, &str)]) -> ReplayEvent {
    let items: String = regions
        .iter()
        .map(|(name, status)| {
            format!(
                "<item><regionName>{name}</regionName><regionEndpoint>ec2.{name}.amazonaws.com</regionEndpoint><optInStatus>{status}</optInStatus></item>"
            )
        })
        .collect();
    ReplayEvent::new(
        request("https://ec2.us-east-1.amazonaws.com/"),
        xml(&format!(
            r#"<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <regionInfo>{items}</regionInfo>
</DescribeRegionsResponse>"#
        )),
    )
}

/// STS GetCallerIdentity, the first call of every session.
fn caller_identity() -> ReplayEvent {
    ReplayEvent::new(
        request("https://sts.us-east-1.amazonaws.com/"),
        xml(&format!(
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::{ACCOUNT}:user/auditor</Arn>
    <UserId>AIDASAMPLEUSERID</UserId>
    <Account>{ACCOUNT}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#
        )),
    )
}

/// A factory whose every HTTP exchange is the next of `events`, and a context for it.
fn replay(events: Vec<ReplayEvent>) -> (Arc<Aws>, ProbeContext, StaticReplayClient) {
    let client = StaticReplayClient::new(events);
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "replay",
        ))),
        http_client: Some(aws_smithy_runtime_api::client::http::SharedHttpClient::new(
            client.clone(),
        )),
        retry: Some(RetryConfig::standard().with_max_attempts(1)),
    });
    let mut inv = Inventory::default();
    inv.aws.region = Some("us-east-1".into());
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    (aws, ctx, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn guardduty_star_expands_into_every_enabled_region_from_describe_regions() {
    let detector = json!({
        "createdAt": "2026-01-05T10:00:00.000Z",
        "findingPublishingFrequency": "SIX_HOURS",
        "serviceRole": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"),
        "status": "ENABLED",
        "updatedAt": "2026-01-05T10:00:00.000Z",
        "features": [
            {"name": "S3_DATA_EVENTS", "status": "ENABLED"},
            {"name": "EKS_AUDIT_LOGS", "status": "DISABLED"},
            {"name": "RUNTIME_MONITORING", "status": "ENABLED"}
        ]
    });
    let (aws, ctx, client) = replay(vec![
        caller_identity(),
        // `[aws] regions` unset: every enabled region, from EC2 DescribeRegions. A region
        // that is not opted in is left out even if an endpoint lists it.
        describe_regions(&[
            ("af-south-1", "not-opted-in"),
            ("eu-west-1", "opt-in-not-required"),
            ("me-central-1", "opted-in"),
            ("us-east-1", "opt-in-not-required"),
        ]),
        ReplayEvent::new(
            request("https://guardduty.me-central-1.amazonaws.com/detector"),
            json_response(
                200,
                json!({"detectorIds": ["12abc34d567e8fa901bc2d34e56789f0"]}),
            ),
        ),
        ReplayEvent::new(
            request(
                "https://guardduty.me-central-1.amazonaws.com/detector/12abc34d567e8fa901bc2d34e56789f0",
            ),
            json_response(200, detector),
        ),
        // ListFindings (unarchived, severity >= 7), two pages.
        ReplayEvent::new(
            request(
                "https://guardduty.me-central-1.amazonaws.com/detector/12abc34d567e8fa901bc2d34e56789f0/findings",
            ),
            json_response(
                200,
                json!({"findingIds": ["a1b2", "c3d4"], "nextToken": "page-2"}),
            ),
        ),
        ReplayEvent::new(
            request(
                "https://guardduty.me-central-1.amazonaws.com/detector/12abc34d567e8fa901bc2d34e56789f0/findings",
            ),
            json_response(200, json!({"findingIds": ["e5f6"], "nextToken": ""})),
        ),
        // EventBridge ListRules on the default bus: a GuardDuty rule that is enabled, one that
        // is disabled, one for another source, one enabled GuardDuty rule with no target.
        ReplayEvent::new(
            request("https://events.me-central-1.amazonaws.com/"),
            json_response(
                200,
                json!({"Rules": [
                    {"Name": "gd-to-pagerduty", "Arn": format!("arn:aws:events:me-central-1:{ACCOUNT}:rule/gd-to-pagerduty"),
                     "EventPattern": "{\"source\":[\"aws.guardduty\"],\"detail-type\":[\"GuardDuty Finding\"]}",
                     "State": "ENABLED", "EventBusName": "default"},
                    {"Name": "gd-old", "Arn": format!("arn:aws:events:me-central-1:{ACCOUNT}:rule/gd-old"),
                     "EventPattern": "{\"source\":[\"aws.guardduty\"]}",
                     "State": "DISABLED", "EventBusName": "default"},
                    {"Name": "s3-events", "Arn": format!("arn:aws:events:me-central-1:{ACCOUNT}:rule/s3-events"),
                     "EventPattern": "{\"source\":[\"aws.s3\"]}",
                     "State": "ENABLED", "EventBusName": "default"},
                    {"Name": "gd-nowhere", "Arn": format!("arn:aws:events:me-central-1:{ACCOUNT}:rule/gd-nowhere"),
                     "EventPattern": "{\"source\":[\"aws.guardduty\"]}",
                     "State": "ENABLED", "EventBusName": "default"}
                ]}),
            ),
        ),
        ReplayEvent::new(
            request("https://events.me-central-1.amazonaws.com/"),
            json_response(
                200,
                json!({"Targets": [{"Id": "pd", "Arn": format!("arn:aws:sns:me-central-1:{ACCOUNT}:security-pager")}]}),
            ),
        ),
        ReplayEvent::new(
            request("https://events.me-central-1.amazonaws.com/"),
            json_response(200, json!({"Targets": []})),
        ),
    ]);
    let probe = GuardDutyProbe::new(aws);
    let regions = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(regions, vec!["eu-west-1", "me-central-1", "us-east-1"]);
    let obs = probe
        .observe("me-central-1", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&obs, "detector.enabled"), &json!(true));
    assert_eq!(
        fact(&obs, "detector.finding_publishing_frequency"),
        &json!("SIX_HOURS")
    );
    assert_eq!(
        fact(&obs, "detector.features_enabled"),
        &json!(["RUNTIME_MONITORING", "S3_DATA_EVENTS"])
    );
    // Every page counted (old main had no such fact: a control on it could never pass).
    assert_eq!(fact(&obs, "findings.high_open"), &json!(3));
    // Routed by the enabled GuardDuty rule with a target; the disabled one, the S3 one and
    // the one without a target are not routes.
    assert_eq!(fact(&obs, "findings.routed"), &json!(true));
    assert_eq!(
        obs.evidence["finding_rules"],
        json!([{"rule": "gd-to-pagerduty", "targets": [format!("arn:aws:sns:me-central-1:{ACCOUNT}:security-pager")]}])
    );
    let list = client
        .actual_requests()
        .find(|r| r.uri().to_string().ends_with("/findings"))
        .and_then(|r| {
            r.body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).to_string())
        })
        .unwrap();
    let body: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(
        body["findingCriteria"]["criterion"]["severity"]["greaterThanOrEqual"],
        json!(7),
        "{body}"
    );
    assert_eq!(
        body["findingCriteria"]["criterion"]["service.archived"]["equals"],
        json!(["false"]),
        "archived findings are not open: {body}"
    );
    let sent: Vec<String> = client
        .actual_requests()
        .map(|r| r.uri().to_string())
        .collect();
    assert!(sent[1].contains("ec2.us-east-1."), "{sent:?}");
    assert!(sent[2].contains("guardduty.me-central-1."), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudtrail_delivery_time_and_error_are_read_and_a_denied_call_leaves_only_its_facts_unobserved()
 {
    let trail = format!("arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/org-audit");
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request("https://cloudtrail.eu-west-1.amazonaws.com/"),
            json_response(
                200,
                json!({"Trail": {
                    "Name": "org-audit",
                    "S3BucketName": "org-audit-logs",
                    "IncludeGlobalServiceEvents": true,
                    "IsMultiRegionTrail": true,
                    "HomeRegion": "eu-west-1",
                    "TrailARN": trail,
                    "LogFileValidationEnabled": true,
                    "KmsKeyId": format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd"),
                    "HasCustomEventSelectors": false,
                    "HasInsightSelectors": false,
                    "IsOrganizationTrail": true
                }}),
            ),
        ),
        // GetTrailStatus: logging, but the last delivery was long ago and the bucket refuses.
        ReplayEvent::new(
            request("https://cloudtrail.eu-west-1.amazonaws.com/"),
            json_response(
                200,
                json!({
                    "IsLogging": true,
                    "LatestDeliveryTime": 1_700_000_000.0,
                    "LatestDeliveryError": "AccessDenied",
                    "StartLoggingTime": 1_690_000_000.0
                }),
            ),
        ),
        // GetEventSelectors: the auditor's role lacks cloudtrail:GetEventSelectors.
        ReplayEvent::new(
            request("https://cloudtrail.eu-west-1.amazonaws.com/"),
            json_response(
                400,
                json!({
                    "__type": "AccessDeniedException",
                    "message": format!("User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: cloudtrail:GetEventSelectors")
                }),
            ),
        ),
    ]);
    let probe = CloudTrailProbe::new(aws);
    let obs = probe.observe(&trail, &Params::new(), &ctx).await.unwrap();
    assert_eq!(
        obs.evidence["region"],
        json!("eu-west-1"),
        "the ARN's region"
    );
    assert_eq!(fact(&obs, "trail.logging"), &json!(true));
    assert_eq!(fact(&obs, "trail.organization"), &json!(true));
    assert_eq!(
        fact(&obs, "trail.latest_delivery"),
        &json!("2023-11-14T22:13:20Z")
    );
    assert_eq!(
        fact(&obs, "trail.latest_delivery_error"),
        &json!("AccessDenied")
    );
    for f in [
        "trail.management_events",
        "trail.management_events_scope",
        "trail.management_events_excluded",
    ] {
        let why = obs.unobserved.get(f).unwrap_or_else(|| panic!("{f}"));
        assert!(
            why.contains("cloudtrail:GetEventSelectors") && why.contains("user/auditor"),
            "{why}"
        );
    }
}

/// A member account sees its organization's trail (owned by the management account
/// 111122223333): ListTrails lists it, GetTrail/GetTrailStatus/GetEventSelectors refuse it
/// ("Unknown trail ... for the user"), DescribeTrails with shadow trails describes it. The wrong
/// answers this prevents: the organization trail as an `error` (old main called GetTrail), and
/// its logging/management-event facts guessed instead of left unobserved with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn cloudtrail_organization_trail_seen_from_a_member_account_is_read_from_shadow_trail_data() {
    let trail = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail";
    let unknown = |_: &str| {
        json_response(
            400,
            json!({
                "__type": "TrailNotFoundException",
                "message": format!("Unknown trail: {trail} for the user: {ACCOUNT}")
            }),
        )
    };
    let (aws, ctx, client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request("https://cloudtrail.us-east-1.amazonaws.com/"),
            json_response(
                200,
                json!({"trailList": [{
                    "Name": "org-trail",
                    "S3BucketName": "aws-controltower-logs-111122223333-us-east-1",
                    "IncludeGlobalServiceEvents": true,
                    "IsMultiRegionTrail": true,
                    "HomeRegion": "us-east-1",
                    "TrailARN": trail,
                    "LogFileValidationEnabled": true,
                    "KmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c",
                    "HasCustomEventSelectors": true,
                    "HasInsightSelectors": false,
                    "IsOrganizationTrail": true
                }]}),
            ),
        ),
        ReplayEvent::new(
            request("https://cloudtrail.us-east-1.amazonaws.com/"),
            unknown("GetTrailStatus"),
        ),
        ReplayEvent::new(
            request("https://cloudtrail.us-east-1.amazonaws.com/"),
            unknown("GetEventSelectors"),
        ),
    ]);
    let obs = CloudTrailProbe::new(aws)
        .observe(trail, &Params::new(), &ctx)
        .await
        .expect("an organization trail seen from a member account is not an error");
    assert_eq!(fact(&obs, "trail.organization"), &json!(true));
    assert_eq!(fact(&obs, "trail.multi_region"), &json!(true));
    assert_eq!(fact(&obs, "trail.log_file_validation"), &json!(true));
    assert_eq!(
        fact(&obs, "trail.s3_bucket"),
        &json!("aws-controltower-logs-111122223333-us-east-1")
    );
    assert_eq!(fact(&obs, "trail.arn"), &json!(trail));
    for f in STATUS_AND_SELECTOR_FACTS {
        assert!(!obs.facts.contains_key(f), "{f} must not be guessed");
        let why = obs.unobserved.get(f).unwrap_or_else(|| panic!("{f}"));
        assert!(
            why.contains("111122223333") && why.contains("organization trail"),
            "{why}"
        );
    }
    assert_eq!(
        obs.evidence["read_from"]["call"],
        json!("DescribeTrails"),
        "{:?}",
        obs.evidence
    );
    let targets: Vec<String> = client
        .actual_requests()
        .filter_map(|r| r.headers().get("x-amz-target").map(str::to_string))
        .collect();
    assert!(
        targets[0].ends_with(".DescribeTrails")
            && !targets.iter().any(|t| t.ends_with(".GetTrail")),
        "{targets:?}"
    );
    let body = client
        .actual_requests()
        .find(|r| {
            r.headers()
                .get("x-amz-target")
                .is_some_and(|t| t.ends_with(".DescribeTrails"))
        })
        .and_then(|r| {
            r.body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).to_string())
        })
        .unwrap();
    assert!(body.contains("\"includeShadowTrails\":true"), "{body}");
}

const STATUS_AND_SELECTOR_FACTS: [&str; 6] = [
    "trail.logging",
    "trail.latest_delivery",
    "trail.latest_delivery_error",
    "trail.management_events",
    "trail.management_events_scope",
    "trail.management_events_excluded",
];

#[tokio::test(flavor = "multi_thread")]
async fn cloudtrail_that_never_delivered_reports_a_null_delivery_time() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request("https://cloudtrail.us-east-1.amazonaws.com/"),
            json_response(
                200,
                json!({"Trail": {
                    "Name": "fresh", "S3BucketName": "b", "IsMultiRegionTrail": false,
                    "HomeRegion": "us-east-1",
                    "TrailARN": format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/fresh"),
                    "LogFileValidationEnabled": false
                }}),
            ),
        ),
        ReplayEvent::new(
            request("https://cloudtrail.us-east-1.amazonaws.com/"),
            json_response(200, json!({"IsLogging": false})),
        ),
        // A trail's default selector as AWS returns it.
        ReplayEvent::new(
            request("https://cloudtrail.us-east-1.amazonaws.com/"),
            json_response(
                200,
                json!({
                    "TrailARN": format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/fresh"),
                    "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true,
                                        "DataResources": [], "ExcludeManagementEventSources": []}]
                }),
            ),
        ),
    ]);
    let obs = CloudTrailProbe::new(aws)
        .observe("fresh", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&obs, "trail.latest_delivery"), &Value::Null);
    assert_eq!(fact(&obs, "trail.latest_delivery_error"), &Value::Null);
    assert_eq!(fact(&obs, "trail.logging"), &json!(false));
    assert_eq!(fact(&obs, "trail.management_events"), &json!(true));
}

fn iam_error(status: u16, code: &str, message: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(SdkBody::from(format!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>4b2c5b5a-EXAMPLE</RequestId>
</ErrorResponse>"#
        )))
        .unwrap()
}

/// The IAM calls of one `aws.iam` observation: a root without MFA (password and keys as given),
/// ListOrganizationsFeatures answered by `features`, no password policy, a root-only report.
async fn iam_with_organization(
    root_password: bool,
    features: http::Response<SdkBody>,
) -> Observation {
    use base64::Engine;
    let csv = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2019-03-01T09:00:00+00:00,not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";
    let content = base64::engine::general_purpose::STANDARD.encode(csv);
    let iam = "https://iam.amazonaws.com/";
    let pw = u8::from(root_password);
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request(iam),
            xml(&format!(
                r#"<GetAccountSummaryResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetAccountSummaryResult>
    <SummaryMap>
      <entry><key>Users</key><value>0</value></entry>
      <entry><key>AccountMFAEnabled</key><value>0</value></entry>
      <entry><key>AccountPasswordPresent</key><value>{pw}</value></entry>
      <entry><key>AccountAccessKeysPresent</key><value>0</value></entry>
      <entry><key>AccountSigningCertificatesPresent</key><value>0</value></entry>
    </SummaryMap>
  </GetAccountSummaryResult>
  <ResponseMetadata><RequestId>85cb9b90-ac28-11e4-a88d-97964EXAMPLE</RequestId></ResponseMetadata>
</GetAccountSummaryResponse>"#
            )),
        ),
        ReplayEvent::new(request(iam), features),
        ReplayEvent::new(
            request(iam),
            iam_error(
                404,
                "NoSuchEntity",
                "The Password Policy with domain name 123456789012 cannot be found.",
            ),
        ),
        ReplayEvent::new(
            request(iam),
            xml(
                r#"<GenerateCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GenerateCredentialReportResult><State>COMPLETE</State></GenerateCredentialReportResult>
  <ResponseMetadata><RequestId>29f47818-99f5-11e1-a4c3-27EXAMPLE804</RequestId></ResponseMetadata>
</GenerateCredentialReportResponse>"#,
            ),
        ),
        ReplayEvent::new(
            request(iam),
            xml(&format!(
                r#"<GetCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetCredentialReportResult>
    <Content>{content}</Content>
    <ReportFormat>text/csv</ReportFormat>
    <GeneratedTime>2026-11-29T06:00:00Z</GeneratedTime>
  </GetCredentialReportResult>
  <ResponseMetadata><RequestId>29f47818-99f5-11e1-a4c3-27EXAMPLE804</RequestId></ResponseMetadata>
</GetCredentialReportResponse>"#
            )),
        ),
    ]);
    IamProbe::new(aws)
        .observe("account", &Params::new(), &ctx)
        .await
        .unwrap()
}

/// ListOrganizationsFeatures as the IAM API reference shows it: centralized root access on.
fn root_management_on() -> http::Response<SdkBody> {
    xml(
        r#"<ListOrganizationsFeaturesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListOrganizationsFeaturesResult>
    <OrganizationId>o-aa111bb222</OrganizationId>
    <EnabledFeatures>
      <member>RootCredentialsManagement</member>
      <member>RootSessions</member>
    </EnabledFeatures>
  </ListOrganizationsFeaturesResult>
  <ResponseMetadata><RequestId>b5ee0a2b-EXAMPLE</RequestId></ResponseMetadata>
</ListOrganizationsFeaturesResponse>"#,
    )
}

/// The built-in `IAM-ROOT-MFA`, loaded as `vouch check` loads it, evaluated on `obs`.
fn builtin_root_mfa(obs: &Observation) -> vouch::report::TargetResult {
    let registry = vouch::probe::Registry::with(vec![Arc::new(IamProbe::new(Aws::new()))]);
    let mut diags = vouch::diag::Diagnostics::new();
    let controls = vouch::control::load_controls(
        &[vouch::control::Source::Path(
            support::repo().join("controls/03-access.toml"),
        )],
        &registry,
        None,
        &mut diags,
    );
    let control = controls
        .into_iter()
        .find(|c| c.id == "IAM-ROOT-MFA")
        .expect("the built-in IAM-ROOT-MFA");
    vouch::engine::evaluate(&control, obs, None, jiff::Timestamp::now())
}

/// Centralized root access (AWS Organizations). The wrong answers prevented: a member account
/// whose root credentials the organization removed failing IAM-ROOT-MFA (old main: `fail`, a
/// failure a real account set up by AWS's recommendation would not have); the management
/// account's own root (it keeps its password) waved through as n/a because the feature is on;
/// an account that cannot ask (a member account's AccountNotManagementOrDelegatedAdministrator)
/// turned into a pass or an n/a.
#[tokio::test(flavor = "multi_thread")]
async fn iam_root_credentials_centrally_managed_make_root_mfa_not_applicable_and_never_a_pass() {
    use vouch::expect::Verdict;
    // The feature on and this account's root has no password and no keys: removed centrally.
    let removed = iam_with_organization(false, root_management_on()).await;
    assert_eq!(
        fact(&removed, "root.credentials_centrally_managed"),
        &json!(true)
    );
    assert_eq!(fact(&removed, "root.mfa_enabled"), &json!(false));
    assert_eq!(
        removed.evidence["organizations_features"]["enabled_features"],
        json!(["RootCredentialsManagement", "RootSessions"])
    );
    let r = builtin_root_mfa(&removed);
    assert_eq!(r.verdict, Verdict::NotApplicable, "{r:?}");
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("root.credentials_centrally_managed")),
        "{r:?}"
    );

    // The feature on, but this root still has a password (the management account's own):
    // MFA is still demanded.
    let kept = iam_with_organization(true, root_management_on()).await;
    assert_eq!(
        fact(&kept, "root.credentials_centrally_managed"),
        &json!(false)
    );
    assert_eq!(builtin_root_mfa(&kept).verdict, Verdict::Fail);

    // A member account cannot list the organization's features: unobserved, and the control
    // cannot decide its scope (error), never pass, never n/a.
    let member = iam_with_organization(
        false,
        iam_error(
            400,
            "AccountNotManagementOrDelegatedAdministratorException",
            "The request was rejected because the account making the request is not the management account or delegated administrator account for centralized root access.",
        ),
    )
    .await;
    assert!(
        !member
            .facts
            .contains_key("root.credentials_centrally_managed")
    );
    let why = &member.unobserved["root.credentials_centrally_managed"];
    assert!(
        why.contains("AccountNotManagementOrDelegatedAdministrator")
            || why.contains("management account"),
        "{why}"
    );
    assert_eq!(builtin_root_mfa(&member).verdict, Verdict::Error);

    // A member account whose root still has a password: not centrally managed, whatever the
    // organization's features (which it may not read), so the MFA check judges it as before:
    // the wrong answer prevented is an `error` for every member account with a root password.
    let member_with_password = iam_with_organization(
        true,
        iam_error(
            400,
            "AccountNotManagementOrDelegatedAdministratorException",
            "The request was rejected because the account making the request is not the management account or delegated administrator account for centralized root access.",
        ),
    )
    .await;
    assert_eq!(
        fact(&member_with_password, "root.credentials_centrally_managed"),
        &json!(false)
    );
    assert_eq!(
        builtin_root_mfa(&member_with_password).verdict,
        Verdict::Fail
    );

    // Trusted access for IAM off: not centrally managed, the MFA check applies.
    let off = iam_with_organization(
        false,
        iam_error(400, "ServiceAccessNotEnabledException", "The request was rejected because trusted access is not enabled for IAM in AWS Organizations."),
    )
    .await;
    assert_eq!(
        fact(&off, "root.credentials_centrally_managed"),
        &json!(false)
    );
    assert_eq!(builtin_root_mfa(&off).verdict, Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_reads_the_root_row_of_a_real_credential_report() {
    use base64::Engine;
    // The report as AWS writes it: the root user's row first (moto's report has none).
    let csv = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2019-03-01T09:00:00+00:00,not_supported,2026-11-01T08:00:00+00:00,not_supported,not_supported,true,true,2019-03-01T09:10:00+00:00,2026-10-30T11:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
dana,arn:aws:iam::123456789012:user/dana,2024-01-01T00:00:00+00:00,true,2026-11-20T00:00:00+00:00,2024-01-01T00:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";
    let content = base64::engine::general_purpose::STANDARD.encode(csv);
    let iam = "https://iam.amazonaws.com/";
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request(iam),
            xml(r#"<GetAccountSummaryResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetAccountSummaryResult>
    <SummaryMap>
      <entry><key>Users</key><value>1</value></entry>
      <entry><key>AccountMFAEnabled</key><value>1</value></entry>
      <entry><key>AccountAccessKeysPresent</key><value>1</value></entry>
    </SummaryMap>
  </GetAccountSummaryResult>
  <ResponseMetadata><RequestId>85cb9b90-ac28-11e4-a88d-97964EXAMPLE</RequestId></ResponseMetadata>
</GetAccountSummaryResponse>"#),
        ),
        ReplayEvent::new(request(iam), iam_error(400, "OrganizationNotFoundException", "You are not in an organization.")),
        ReplayEvent::new(
            request(iam),
            http::Response::builder()
                .status(404)
                .header("content-type", "text/xml")
                .body(SdkBody::from(r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The Password Policy with domain name 123456789012 cannot be found.</Message></Error>
  <RequestId>4b2c5b5a-EXAMPLE</RequestId>
</ErrorResponse>"#))
                .unwrap(),
        ),
        ReplayEvent::new(
            request(iam),
            xml(r#"<GenerateCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GenerateCredentialReportResult><State>COMPLETE</State></GenerateCredentialReportResult>
  <ResponseMetadata><RequestId>29f47818-99f5-11e1-a4c3-27EXAMPLE804</RequestId></ResponseMetadata>
</GenerateCredentialReportResponse>"#),
        ),
        ReplayEvent::new(
            request(iam),
            xml(&format!(r#"<GetCredentialReportResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetCredentialReportResult>
    <Content>{content}</Content>
    <ReportFormat>text/csv</ReportFormat>
    <GeneratedTime>2026-11-29T06:00:00Z</GeneratedTime>
  </GetCredentialReportResult>
  <ResponseMetadata><RequestId>29f47818-99f5-11e1-a4c3-27EXAMPLE804</RequestId></ResponseMetadata>
</GetCredentialReportResponse>"#)),
        ),
    ]);
    let obs = IamProbe::new(aws)
        .observe("account", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&obs, "root.mfa_enabled"), &json!(true));
    assert_eq!(fact(&obs, "root.access_keys"), &json!(true));
    assert_eq!(fact(&obs, "password_policy.present"), &json!(false));
    assert_eq!(
        fact(&obs, "root.credentials_centrally_managed"),
        &json!(false),
        "not in an organization"
    );
    assert_eq!(fact(&obs, "users.count"), &json!(1), "root is not a user");
    assert_eq!(fact(&obs, "users.console_without_mfa"), &json!(["dana"]));
    assert_eq!(
        fact(&obs, "users.stale_access_keys"),
        &json!(["<root_account>/key1"]),
        "root's seven-year-old key, with the default 90 days"
    );
    assert_eq!(
        fact(&obs, "credential_report.generated"),
        &json!("2026-11-29T06:00:00Z")
    );
}

/// CloudFront GetDistributionConfig as the API reference shows it, with `web_acl` as WebACLId.
fn distribution_config(web_acl: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .header("etag", "E2QWRUHEXAMPLE")
        .header("x-amzn-requestid", "3f3c9e2b-0000-4000-8000-EXAMPLE00001")
        .body(SdkBody::from(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <CallerReference>vouch-edge</CallerReference>
  <Aliases><Quantity>0</Quantity></Aliases>
  <DefaultRootObject></DefaultRootObject>
  <Origins><Quantity>1</Quantity><Items><Origin>
    <Id>site</Id><DomainName>example.com</DomainName><OriginPath></OriginPath>
    <CustomHeaders><Quantity>0</Quantity></CustomHeaders>
    <CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort>
      <OriginProtocolPolicy>https-only</OriginProtocolPolicy></CustomOriginConfig>
  </Origin></Items></Origins>
  <DefaultCacheBehavior>
    <TargetOriginId>site</TargetOriginId>
    <ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>
    <CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>
    <Compress>true</Compress>
  </DefaultCacheBehavior>
  <CacheBehaviors><Quantity>0</Quantity></CacheBehaviors>
  <Comment></Comment>
  <PriceClass>PriceClass_All</PriceClass>
  <Enabled>true</Enabled>
  <WebACLId>{web_acl}</WebACLId>
  <HttpVersion>http2</HttpVersion>
  <IsIPV6Enabled>true</IsIPV6Enabled>
</DistributionConfig>"#
        )))
        .unwrap()
}

/// A load balancer without a web ACL, as WAFv2 answers it: either an empty
/// GetWebACLForResource or WAFNonexistentItemException. The wrong answer prevented: the second
/// as an `error` (old main: "WAFv2 knows no resource") instead of `associated == false`.
#[tokio::test(flavor = "multi_thread")]
async fn wafv2_resource_without_a_web_acl_is_not_associated_not_an_error() {
    let alb = format!(
        "arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/public-web/50dc6c495c0c9188"
    );
    for answer in [
        json_response(200, json!({})),
        json_response(
            400,
            json!({
                "__type": "WAFNonexistentItemException",
                "Message": "AWS WAF couldn’t perform the operation because your resource doesn’t exist."
            }),
        ),
    ] {
        let (aws, ctx, _client) = replay(vec![
            caller_identity(),
            ReplayEvent::new(request("https://wafv2.us-east-1.amazonaws.com/"), answer),
        ]);
        let obs = Wafv2Probe::new(aws)
            .observe(&alb, &Params::new(), &ctx)
            .await
            .expect("no web ACL is an observation, not an error");
        assert_eq!(fact(&obs, "web_acl.associated"), &json!(false));
        assert_eq!(fact(&obs, "web_acl.name"), &Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wafv2_reads_a_distributions_web_acl_from_its_configuration() {
    let acl_arn = format!(
        "arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/cdn/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    );
    let vis = json!({"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "cdn"});
    let web_acl = json!({
        "WebACL": {
            "Name": "cdn",
            "Id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
            "ARN": acl_arn,
            "DefaultAction": {"Block": {}},
            "Description": "",
            "Rules": [
                {"Name": "common", "Priority": 0,
                 "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}},
                 "OverrideAction": {"None": {}}, "VisibilityConfig": vis},
                {"Name": "flood", "Priority": 1,
                 "Statement": {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}},
                 "Action": {"Block": {}}, "VisibilityConfig": vis}
            ],
            "VisibilityConfig": vis,
            "Capacity": 702,
            "PreProcessFirewallManagerRuleGroups": [
                {"Name": "fms-baseline", "Priority": 0,
                 "FirewallManagerStatement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesKnownBadInputsRuleSet"}},
                 "OverrideAction": {"None": {}}, "VisibilityConfig": vis}
            ],
            "PostProcessFirewallManagerRuleGroups": [],
            "ManagedByFirewallManager": true,
            "LabelNamespace": format!("awswaf:{ACCOUNT}:webacl:cdn:")
        },
        "LockToken": "0123abcd-EXAMPLE"
    });
    let cf =
        |id: &str| format!("https://cloudfront.amazonaws.com/2020-05-31/distribution/{id}/config");
    let (aws, ctx, client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(request(&cf("E2QWRUHAPOMQZL")), distribution_config(&acl_arn)),
        ReplayEvent::new(
            request("https://wafv2.us-east-1.amazonaws.com/"),
            json_response(200, web_acl),
        ),
        // WAF Classic names its web ACL by a bare id.
        ReplayEvent::new(
            request(&cf("E1CLASSIC0000")),
            distribution_config("473e64fd-f30b-4765-81a0-62ad96dd167a"),
        ),
        ReplayEvent::new(request(&cf("E1OPEN0000000")), distribution_config("")),
        ReplayEvent::new(
            request(&cf("E1GONE0000000")),
            http::Response::builder()
                .status(404)
                .header("content-type", "text/xml")
                .body(SdkBody::from(r#"<?xml version="1.0"?>
<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Error><Type>Sender</Type><Code>NoSuchDistribution</Code><Message>The specified distribution does not exist.</Message></Error>
  <RequestId>5f2bd6c8-EXAMPLE</RequestId>
</ErrorResponse>"#))
                .unwrap(),
        ),
    ]);
    let probe = Wafv2Probe::new(aws);
    let arn = format!("arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHAPOMQZL");
    let obs = probe.observe(&arn, &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&obs, "web_acl.associated"), &json!(true));
    assert_eq!(fact(&obs, "web_acl.name"), &json!("cdn"));
    assert_eq!(fact(&obs, "web_acl.arn"), &json!(acl_arn));
    assert_eq!(
        fact(&obs, "web_acl.managed_rule_groups"),
        &json!([
            "AWS/AWSManagedRulesCommonRuleSet",
            "AWS/AWSManagedRulesKnownBadInputsRuleSet"
        ]),
        "the web ACL's own rules and Firewall Manager's"
    );
    assert_eq!(fact(&obs, "web_acl.rate_based_rules"), &json!(1));
    assert_eq!(fact(&obs, "web_acl.default_action"), &json!("BLOCK"));
    assert_eq!(obs.evidence["region"], json!("us-east-1"));

    let classic = probe
        .observe("E1CLASSIC0000", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&classic, "web_acl.associated"), &json!(true));
    assert!(classic.unobserved["web_acl.managed_rule_groups"].contains("WAF Classic"));

    let open = probe
        .observe("E1OPEN0000000", &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&open, "web_acl.associated"), &json!(false));
    assert_eq!(fact(&open, "web_acl.name"), &Value::Null);

    let gone = probe
        .observe("E1GONE0000000", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(gone.kind, ProbeErrorKind::NotFound, "{gone:?}");

    let sent: Vec<String> = client
        .actual_requests()
        .map(|r| r.uri().to_string())
        .collect();
    assert!(
        sent[1].ends_with("/2020-05-31/distribution/E2QWRUHAPOMQZL/config"),
        "{sent:?}"
    );
    let get_acl = client.actual_requests().nth(2).unwrap();
    assert_eq!(
        get_acl.headers().get("x-amz-target"),
        Some("AWSWAF_20190729.GetWebACL")
    );
    let body: Value = serde_json::from_slice(get_acl.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"Name": "cdn", "Scope": "CLOUDFRONT", "Id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_discovery_stops_when_an_endpoint_repeats_its_page_token() {
    let group = |name: &str, days: Option<i32>| {
        let mut g = json!({
            "logGroupName": name,
            "creationTime": 1_700_000_000_000_i64,
            "metricFilterCount": 0,
            "arn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}:*"),
            "logGroupArn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"),
            "storedBytes": 52_428_800,
            "logGroupClass": "STANDARD"
        });
        if let Some(d) = days {
            g["retentionInDays"] = json!(d);
        }
        g
    };
    let logs = "https://logs.us-east-1.amazonaws.com/";
    let (aws, _, client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request(logs),
            json_response(
                200,
                json!({"logGroups": [group("/a", Some(365))], "nextToken": "same"}),
            ),
        ),
        // A broken endpoint hands out the token it was given: discovery must not loop.
        ReplayEvent::new(
            request(logs),
            json_response(
                200,
                json!({"logGroups": [group("/b", None)], "nextToken": "same"}),
            ),
        ),
    ]);
    // One listed region: the paging is under test, not the choice of regions.
    let mut inv = Inventory::default();
    inv.aws.region = Some("us-east-1".into());
    inv.aws.regions = Some(vec!["us-east-1".into()]);
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let probe = LogsProbe::new(aws);
    assert_eq!(probe.discover("*", &ctx).await.unwrap(), vec!["/a", "/b"]);
    assert_eq!(
        client.actual_requests().count(),
        3,
        "STS and two pages, then stop"
    );
    // Both groups are observed from those pages, with no further call.
    let b = probe.observe("/b", &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&b, "retention.never_expires"), &json!(true));
    assert_eq!(fact(&b, "stored_bytes"), &json!(52_428_800));
    assert_eq!(client.actual_requests().count(), 3);
    let run = ctx.run_info();
    let provenance = run
        .iter()
        .find(|(k, _)| k.starts_with("aws.logs.discovery"))
        .map(|(_, v)| v)
        .expect("discovery provenance in the run section");
    assert_eq!(provenance["log_groups"], json!(2));
    assert_eq!(provenance["api_calls"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// End to end: `vouch check` with the example controls against moto

/// Verdict of each result of control `id`, by target.
fn control_verdict(report: &Value, id: &str) -> String {
    support::assert_iam_policy_allows(report);
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn vouch_check_of_the_logging_and_identity_controls_passes_and_fails_the_right_resources() {
    use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType};
    let acct = Account::fresh("us-east-1").await;
    let cfg = acct.sdk().await;

    // Trails: one complete, one single-region trail that never started.
    let s3 = Account::s3(&cfg);
    let bucket = format!("audit-{}", acct.id);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let ct = aws_sdk_cloudtrail::Client::new(&cfg);
    for (name, good) in [("org-audit", true), ("app-debug", false)] {
        ct.create_trail()
            .name(name)
            .s3_bucket_name(&bucket)
            .is_multi_region_trail(good)
            .enable_log_file_validation(good)
            .set_kms_key_id(good.then(|| format!("arn:aws:kms:us-east-1:{}:key/k", acct.id)))
            .send()
            .await
            .unwrap();
        // moto lists no selectors for a new trail where AWS lists the default one; set it.
        ct.put_event_selectors()
            .trail_name(name)
            .event_selectors(
                EventSelector::builder()
                    .read_write_type(if good {
                        ReadWriteType::All
                    } else {
                        ReadWriteType::WriteOnly
                    })
                    .include_management_events(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    ct.start_logging().name("org-audit").send().await.unwrap();

    // Log groups: 400 days, never expires (meets 365), 30 days (fails).
    let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
    for (name, days) in [
        ("/sec/audit", Some(400)),
        ("/sec/archive", None),
        ("/app/debug", Some(30)),
    ] {
        logs.create_log_group()
            .log_group_name(name)
            .send()
            .await
            .unwrap();
        if let Some(d) = days {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(d)
                .send()
                .await
                .unwrap();
        }
    }

    // IAM: a weak password policy, one console user without MFA.
    let iam = aws_sdk_iam::Client::new(&cfg);
    iam.update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("erin").send().await.unwrap();
    iam.create_login_profile()
        .user_name("erin")
        .password("a-long-enough-password-1A!")
        .send()
        .await
        .unwrap();

    let (web, bare) = seed_edge(&acct).await;
    // A web ACL that runs managed rules but no rate-based rule: a firewall without the
    // DDoS protection the claim names.
    let thin = {
        let eu = acct.sdk_in("eu-west-1").await;
        let subnets = aws_sdk_ec2_free::vpc_subnets(&eu).await;
        let thin = aws_sdk_elasticloadbalancingv2_free::create(&eu, "thin", &subnets).await;
        let waf = aws_sdk_wafv2::Client::new(&eu);
        let acl = web_acl(&waf, "thin", aws_sdk_wafv2::types::Scope::Regional, false).await;
        waf.associate_web_acl()
            .web_acl_arn(&acl)
            .resource_arn(&thin)
            .send()
            .await
            .unwrap();
        thin
    };

    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("vouch.toml");
    std::fs::write(
        &inventory,
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n[targets]\n\
             aws_trails = [\"*\"]\naws_log_groups = [\"*\"]\naws_account = [\"account\"]\n\
             aws_regions = [\"*\"]\naws_edge = [\"{web}\", \"{bare}\", \"{thin}\"]\n",
            acct.url
        ),
    )
    .unwrap();
    // The shipped library's own logging, identity, detection and edge controls.
    let mut cmd = acct.vouch();
    cmd.args(["check", "--format", "json", "--controls", "builtin"]);
    for id in [
        "LOG-CLOUDTRAIL",
        "LOG-RETENTION-365",
        "IAM-PASSWORD-POLICY",
        "IAM-ROOT-MFA",
        "IAM-CONSOLE-MFA",
        "IAM-ROOT-NO-ACCESS-KEYS",
        "IAM-STALE-ACCESS-KEYS",
        "DETECT-GUARDDUTY",
        "INFRA-WAF",
    ] {
        cmd.args(["--only", id]);
    }
    let out = cmd.arg("--inventory").arg(&inventory).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        out.status.code(),
        Some(i32::from(vouch::exit::FAILED)),
        "failures present"
    );
    assert_eq!(
        report["run"]["context"]["aws.caller_identity"]["account"],
        json!(acct.id),
        "{}",
        report["run"]
    );

    let arn = |n: &str| format!("arn:aws:cloudtrail:us-east-1:{}:trail/{n}", acct.id);
    let trail = support::verdicts(&report, "LOG-CLOUDTRAIL");
    assert_eq!(trail[&arn("org-audit")], "pass", "{trail:?}");
    assert_eq!(trail[&arn("app-debug")], "fail", "{trail:?}");

    let retention = support::verdicts(&report, "LOG-RETENTION-365");
    assert_eq!(retention["/sec/audit"], "pass", "{retention:?}");
    assert_eq!(
        retention["/sec/archive"], "pass",
        "never expires meets 365 days"
    );
    assert_eq!(retention["/app/debug"], "fail");

    assert_eq!(
        support::verdicts(&report, "IAM-PASSWORD-POLICY")["account"],
        "fail"
    );
    assert_eq!(
        support::verdicts(&report, "IAM-CONSOLE-MFA")["account"],
        "fail",
        "erin signs in to the console without MFA"
    );
    assert_eq!(
        support::verdicts(&report, "IAM-ROOT-NO-ACCESS-KEYS")["account"],
        "pass"
    );
    assert_eq!(
        support::verdicts(&report, "IAM-STALE-ACCESS-KEYS")["account"],
        "pass",
        "no access key at all"
    );

    let edge = support::verdicts(&report, "INFRA-WAF");
    assert_eq!(edge[&web], "pass", "{edge:?}");
    assert_eq!(edge[&bare], "fail");
    // Prevents: an associated web ACL passing the WAF claim without the rate-based rule.
    assert_eq!(edge[&thin], "fail", "{edge:?}");

    // `*` is every region EC2 DescribeRegions lists (moto lists all it knows); no region has
    // a detector, so each is its own failing target, never one region standing for the account.
    assert_eq!(control_verdict(&report, "DETECT-GUARDDUTY"), "fail");
    let detectors = support::verdicts(&report, "DETECT-GUARDDUTY");
    assert!(detectors.len() > 10, "{detectors:?}");
    assert!(detectors.values().all(|v| v == "fail"), "{detectors:?}");

    // The spot check: one table of every trail, and of the log groups under a prefix.
    let out = acct
        .vouch()
        .args(["probe", "aws.cloudtrail", "*", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains(&arn("org-audit")) && table.contains(&arn("app-debug")),
        "{table}"
    );
    assert!(table.contains("WriteOnly"), "{table}");
    let out = acct
        .vouch()
        .args(["probe", "aws.logs", "/sec/*", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("/sec/audit") && table.contains("/sec/archive"),
        "{table}"
    );
    assert!(!table.contains("/app/debug"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn vouch_check_fails_an_account_with_no_trail_at_all() {
    let acct = Account::fresh("us-east-1").await;
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("vouch.toml");
    std::fs::write(
        &inventory,
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n[targets]\n\
             aws_trails = [\"*\"]\naws_log_groups = [\"*\"]\n",
            acct.url
        ),
    )
    .unwrap();
    let out = acct
        .vouch()
        .args([
            "check",
            "--format",
            "json",
            "--only",
            "LOG-CLOUDTRAIL",
            "--only",
            "LOG-RETENTION-365",
            "--controls",
            "builtin",
        ])
        .arg("--inventory")
        .arg(&inventory)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(i32::from(vouch::exit::FAILED)));
    assert_eq!(control_verdict(&report, "LOG-CLOUDTRAIL"), "fail");
    let checks = &report["controls"][0]["results"][0]["checks"][0];
    assert_eq!(checks["fact"], json!("population"), "{checks}");
    assert_eq!(checks["observed"], json!(0));
    // No log groups and no min_population: reported as n/a, not as a silent pass.
    assert_eq!(control_verdict(&report, "LOG-RETENTION-365"), "n/a");
}

// ---------------------------------------------------------------------------------------------
// `[aws] regions`: what a regional `*` covers, against moto

impl Account {
    /// This account's context, with `[aws] regions` set.
    fn ctx_with_regions(&self, regions: &[&str]) -> ProbeContext {
        let mut inv = Inventory::default();
        inv.aws.endpoint_url = Some(self.url.clone());
        inv.aws.region = Some(self.region.clone());
        inv.aws.regions = Some(regions.iter().map(|r| r.to_string()).collect());
        ProbeContext::new(Arc::new(inv), ProbeOptions::default())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_and_logs_star_cover_every_listed_region_and_every_enabled_region_by_default() {
    use vouch::probe::aws::kms::KmsProbe;
    let acct = Account::fresh("us-east-1").await;
    let mut keys = Vec::new();
    for region in ["us-east-1", "eu-west-1"] {
        let cfg = acct.sdk_in(region).await;
        let key = aws_sdk_kms::Client::new(&cfg)
            .create_key()
            .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .clone();
        keys.push((key.key_id().to_string(), key.arn().unwrap().to_string()));
        aws_sdk_cloudwatchlogs::Client::new(&cfg)
            .create_log_group()
            .log_group_name(format!("/app/{region}"))
            .send()
            .await
            .unwrap();
    }
    let (home_id, _) = &keys[0];
    let (far_id, far_arn) = &keys[1];
    assert!(far_arn.contains(":eu-west-1:"), "{far_arn}");
    // A key in a region that no setting names.
    let unlisted_arn = aws_sdk_kms::Client::new(&acct.sdk_in("ap-southeast-2").await)
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();

    // Default (`[aws] regions` unset): every region enabled for the account, from EC2
    // DescribeRegions (moto lists every region it knows), so the unlisted region's key is found;
    // the run section says which regions and how they were chosen.
    let kms = KmsProbe::new(acct.aws());
    let ctx = acct.ctx();
    let found = kms.discover("*", &ctx).await.unwrap();
    assert!(found.contains(home_id), "{found:?}");
    assert!(found.contains(far_arn), "{found:?}");
    assert!(found.contains(&unlisted_arn), "{found:?}");
    assert_eq!(found.len(), 3, "{found:?}");
    let info = ctx.run_info();
    assert_eq!(
        info["aws.regions"]["from"],
        json!("every enabled region ([aws] regions unset; EC2 DescribeRegions)")
    );
    let scanned = info["aws.regions"]["regions"].as_array().unwrap();
    for r in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
        assert!(scanned.contains(&json!(r)), "{r} not scanned: {scanned:?}");
    }
    // moto lists opt-in regions too (marked not-opted-in): not enabled, so not scanned.
    assert!(!scanned.contains(&json!("ap-east-1")), "{scanned:?}");
    let listing = &info["aws.enabled_regions"]["api_calls"];
    assert_eq!(listing.as_array().map(Vec::len), Some(1), "{listing}");
    assert_eq!(
        listing[0]["action"],
        json!("ec2:DescribeRegions"),
        "{listing}"
    );
    let far = kms
        .observe(&unlisted_arn, &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(far.evidence["region"], json!("ap-southeast-2"));

    // Listed: both regions; the far key by its ARN, observed in its own region.
    let ctx = acct.ctx_with_regions(&["us-east-1", "eu-west-1"]);
    let found = kms.discover("*", &ctx).await.unwrap();
    assert_eq!(found, vec![home_id.clone(), far_arn.clone()]);
    assert_eq!(
        ctx.run_info()["aws.regions"],
        json!({"from": "[aws] regions", "regions": ["us-east-1", "eu-west-1"]})
    );
    assert!(ctx.run_info().contains_key("aws.kms.discovery.eu-west-1"));
    let far = kms.observe(far_arn, &Params::new(), &ctx).await.unwrap();
    assert_eq!(far.evidence["region"], json!("eu-west-1"));
    assert_eq!(far.evidence["key"]["key_id"], json!(far_id));
    assert_eq!(fact(&far, "key.state"), &json!("Enabled"));
    assert!(
        actions(&far).iter().all(|a| a.starts_with("kms:")),
        "{:?}",
        actions(&far)
    );

    // Logs: the same rule; the far group by its ARN, read from the listing page.
    let logs = LogsProbe::new(acct.aws());
    let found = logs.discover("*", &ctx).await.unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0], "/app/us-east-1");
    assert!(
        found[1].starts_with(&format!(
            "arn:aws:logs:eu-west-1:{}:log-group:/app/eu-west-1",
            acct.id
        )),
        "{found:?}"
    );
    let far = logs.observe(&found[1], &Params::new(), &ctx).await.unwrap();
    assert_eq!(far.evidence["region"], json!("eu-west-1"));
    assert_eq!(fact(&far, "retention.never_expires"), &json!(true));
    let found = LogsProbe::new(acct.aws())
        .discover("*", &acct.ctx())
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "every enabled region by default: {found:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guardduty_star_covers_the_listed_regions_without_asking_the_account_api() {
    let acct = Account::fresh("us-east-1").await;
    aws_sdk_guardduty::Client::new(&acct.sdk_in("eu-west-1").await)
        .create_detector()
        .enable(true)
        .send()
        .await
        .unwrap();
    let probe = GuardDutyProbe::new(acct.aws());
    let ctx = acct.ctx_with_regions(&["eu-west-1", "ap-southeast-2"]);
    let regions = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(regions, vec!["eu-west-1", "ap-southeast-2"]);
    assert!(
        !ctx.run_info().contains_key("aws.enabled_regions"),
        "a listed scope needs no ListRegions"
    );
    let on = probe
        .observe(&regions[0], &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&on, "detector.enabled"), &json!(true));
    let off = probe
        .observe(&regions[1], &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(fact(&off, "detector.enabled"), &json!(false));
}

#[test]
fn vouch_probe_takes_aws_regions_and_refuses_a_name_that_is_not_a_region() {
    // No server needed: the flag is checked before anything is asked.
    let out = vouch()
        .args([
            "probe",
            "aws.kms",
            "*",
            "--aws-regions",
            "eu-west-1,moon-base",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--aws-regions"), "{err}");
    assert!(err.contains("`moon-base` is not a region name"), "{err}");
    let out = vouch()
        .args([
            "probe",
            "aws.kms",
            "*",
            "--aws-regions",
            "enabled,eu-west-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"enabled\" stands alone"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn vouch_probe_star_over_two_regions_lists_both_keys() {
    let acct = Account::fresh("us-east-1").await;
    let mut arns = Vec::new();
    for region in ["us-east-1", "us-west-2"] {
        let key = aws_sdk_kms::Client::new(&acct.sdk_in(region).await)
            .create_key()
            .send()
            .await
            .unwrap();
        arns.push(key.key_metadata().unwrap().arn().unwrap().to_string());
    }
    let out = acct
        .vouch()
        .args(["probe", "aws.kms", "*", "--format", "json"])
        .args(["--aws-endpoint-url", &acct.url])
        .args(["--aws-regions", "us-east-1,us-west-2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&arns[1]),
        "the us-west-2 key is listed: {stdout}"
    );
    let home_id = arns[0].rsplit('/').next().unwrap();
    assert!(stdout.contains(home_id), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// aws.s3: the account-level public-access block, as S3 combines it with the bucket's

#[tokio::test(flavor = "multi_thread")]
async fn s3_account_level_block_covers_a_bucket_without_its_own() {
    use vouch::probe::aws::s3::S3Probe;
    let acct = Account::fresh("us-east-1").await;
    let cfg = acct.sdk().await;
    let s3 = Account::s3(&cfg);
    let bucket = format!("open-{}", acct.id);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    // Neither the bucket nor the account blocks anything yet.
    let probe = S3Probe::new(acct.aws());
    let ctx = acct.ctx();
    let before = probe.observe(&bucket, &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&before, "public_access_block.all"), &json!(false));
    assert_eq!(
        fact(&before, "public_access_block.account_all"),
        &json!(false)
    );
    assert_eq!(
        fact(&before, "public_access_block.effective_all"),
        &json!(false)
    );
    assert!(
        actions(&before).contains(&"s3:GetAccountPublicAccessBlock".to_string()),
        "{:?}",
        actions(&before)
    );

    // The account blocks everything: the bucket's own setting is still off, but S3 enforces
    // the account's, and so does the effective fact.
    let all = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    // The same client set-up vouch uses against an emulator (the account-id host label dropped).
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(&cfg)
            .interceptor(vouch::probe::aws::EmulatorHost)
            .build(),
    )
    .put_public_access_block()
    .account_id(&acct.id)
    .public_access_block_configuration(all)
    .send()
    .await
    .unwrap();
    let probe = S3Probe::new(acct.aws());
    let after = probe.observe(&bucket, &Params::new(), &ctx).await.unwrap();
    assert_eq!(fact(&after, "public_access_block.all"), &json!(false));
    assert_eq!(
        fact(&after, "public_access_block.account_all"),
        &json!(true)
    );
    assert_eq!(
        fact(&after, "public_access_block.effective_all"),
        &json!(true)
    );

    // Read once per run, whatever the number of buckets: a second bucket reuses the answer.
    let other = format!("other-{}", acct.id);
    s3.create_bucket().bucket(&other).send().await.unwrap();
    let second = probe.observe(&other, &Params::new(), &ctx).await.unwrap();
    assert_eq!(
        fact(&second, "public_access_block.effective_all"),
        &json!(true)
    );
    let ids = |obs: &Observation| -> Vec<String> {
        obs.evidence["api_calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == "s3:GetAccountPublicAccessBlock")
            .map(|c| c["request_id"].to_string())
            .collect()
    };
    assert_eq!(ids(&after).len(), 1);
    assert_eq!(
        ids(&after),
        ids(&second),
        "the same call, filed with both buckets"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regions_enabled_scans_every_enabled_region_listed_by_describe_regions() {
    // `[aws] regions = "enabled"`: EC2 DescribeRegions, once per run, then one
    // DescribeLogGroups per enabled region, the home region's group by name, the other's by ARN.
    let group = |region: &str, name: &str| {
        json!({"logGroups": [{
            "logGroupName": name,
            "arn": format!("arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}:*"),
            "creationTime": 1767225600000i64,
            "retentionInDays": 400,
            "storedBytes": 0
        }]})
    };
    let (aws, _, client) = replay(vec![
        caller_identity(),
        describe_regions(&[
            ("eu-central-2", "opted-in"),
            ("us-east-1", "opt-in-not-required"),
        ]),
        ReplayEvent::new(
            request("https://logs.eu-central-2.amazonaws.com/"),
            json_response(200, group("eu-central-2", "/zurich/audit")),
        ),
        ReplayEvent::new(
            request("https://logs.us-east-1.amazonaws.com/"),
            json_response(200, group("us-east-1", "/home/audit")),
        ),
    ]);
    let mut inv = Inventory::default();
    inv.aws.region = Some("us-east-1".into());
    inv.aws.regions = Some(vec!["enabled".into()]);
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let probe = LogsProbe::new(aws);
    let found = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(
        found,
        vec![
            // The log group's own ARN (without the `:*` the API appends).
            format!("arn:aws:logs:eu-central-2:{ACCOUNT}:log-group:/zurich/audit"),
            "/home/audit".to_string(),
        ]
    );
    let run = ctx.run_info();
    assert_eq!(
        run["aws.regions"],
        json!({"from": "every enabled region ([aws] regions = \"enabled\"; EC2 DescribeRegions)",
               "regions": ["eu-central-2", "us-east-1"]})
    );
    assert_eq!(
        run["aws.enabled_regions"]["regions"],
        json!(["eu-central-2", "us-east-1"])
    );
    let sent: Vec<String> = client
        .actual_requests()
        .map(|r| r.uri().to_string())
        .collect();
    assert!(sent[1].contains("ec2.us-east-1."), "{sent:?}");
    assert!(sent[2].contains("logs.eu-central-2."), "{sent:?}");
    assert!(sent[3].contains("logs.us-east-1."), "{sent:?}");
    // The far group is observed from what its listing page said, in its own region.
    let far = probe
        .observe(&found[0], &Params::new(), &ctx)
        .await
        .unwrap();
    assert_eq!(far.evidence["region"], json!("eu-central-2"));
    assert_eq!(fact(&far, "retention_days"), &json!(400));
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_describe_regions_is_an_error_for_every_regional_star_never_one_region() {
    use vouch::probe::aws::kms::KmsProbe;
    // EC2 answers a missing permission with 403 UnauthorizedOperation (query-protocol XML).
    let denied = http::Response::builder()
        .status(403)
        .header("content-type", "text/xml")
        .body(SdkBody::from(format!(
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not \
             authorized to perform this operation. User: arn:aws:iam::{ACCOUNT}:user/auditor is not \
             authorized to perform: ec2:DescribeRegions because no identity-based policy allows the \
             ec2:DescribeRegions action</Message></Error></Errors>\
             <RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>"
        )))
        .unwrap();
    let (aws, ctx, client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(request("https://ec2.us-east-1.amazonaws.com/"), denied),
    ]);
    // `[aws] regions` unset (the replay context): `*` means every enabled region.
    for err in [
        LogsProbe::new(aws.clone())
            .discover("*", &ctx)
            .await
            .unwrap_err(),
        KmsProbe::new(aws.clone())
            .discover("*", &ctx)
            .await
            .unwrap_err(),
        GuardDutyProbe::new(aws)
            .discover("*", &ctx)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind, ProbeErrorKind::Denied, "{err:?}");
        assert!(err.message.contains("DescribeRegions"), "{err:?}");
        let hint = err.hint.as_deref().unwrap_or_default();
        assert!(hint.contains("[aws] regions"), "{hint}");
        assert!(hint.contains("ec2:DescribeRegions"), "{hint}");
    }
    // Asked once for the whole run (the refusal too), and no region was listed instead.
    let sent: Vec<String> = client
        .actual_requests()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("ec2.us-east-1."), "{sent:?}");
    assert!(!ctx.run_info().contains_key("aws.regions"));
}

// ---------------------------------------------------------------------------------------------
// LOG-CLOUDTRAIL is an any-of control: one compliant trail satisfies the account

/// Seeds a compliant multi-region trail (when `org`) and a single-region data-events trail,
/// both logging, and runs the built-in LOG-CLOUDTRAIL over `aws_trails = ["*"]`.
async fn builtin_cloudtrail(org: bool) -> (Account, std::process::Output, Value) {
    use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
    let acct = Account::fresh("us-east-1").await;
    let cfg = acct.sdk().await;
    let bucket = format!("trails-{}", acct.id);
    Account::s3(&cfg)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ct = aws_sdk_cloudtrail::Client::new(&cfg);
    let mut trails = vec![("s3-data-events", false)];
    if org {
        trails.push(("org-audit", true));
    }
    for (name, good) in trails {
        ct.create_trail()
            .name(name)
            .s3_bucket_name(&bucket)
            .is_multi_region_trail(good)
            .enable_log_file_validation(good)
            .send()
            .await
            .unwrap();
        let selector = if good {
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .build()
        } else {
            // A data-events trail: object-level S3 events, no management events.
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(false)
                .data_resources(
                    DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values(format!("arn:aws:s3:::{bucket}/"))
                        .build(),
                )
                .build()
        };
        ct.put_event_selectors()
            .trail_name(name)
            .event_selectors(selector)
            .send()
            .await
            .unwrap();
        ct.start_logging().name(name).send().await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("vouch.toml");
    std::fs::write(
        &inventory,
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n[targets]\naws_trails = [\"*\"]\n",
            acct.url
        ),
    )
    .unwrap();
    let out = acct
        .vouch()
        .args([
            "check",
            "--format",
            "json",
            "--only",
            "LOG-CLOUDTRAIL",
            "--inventory",
        ])
        .arg(&inventory)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (acct, out, report)
}

/// The wrong answer this prevents: an account with a compliant organization-style trail failing
/// LOG-CLOUDTRAIL (exit 1) because it also has a single-region data-events trail.
#[tokio::test(flavor = "multi_thread")]
async fn builtin_cloudtrail_control_passes_on_one_compliant_trail_beside_a_data_events_trail() {
    let (acct, out, report) = builtin_cloudtrail(true).await;
    let arn = |n: &str| format!("arn:aws:cloudtrail:us-east-1:{}:trail/{n}", acct.id);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(control_verdict(&report, "LOG-CLOUDTRAIL"), "pass");
    let c = &report["controls"][0];
    assert_eq!(c["require"], "any");
    assert_eq!(c["satisfied_by"], json!([arn("org-audit")]));
    let each = support::verdicts(&report, "LOG-CLOUDTRAIL");
    assert_eq!(each[&arn("org-audit")], "pass", "{each:?}");
    assert_eq!(
        each[&arn("s3-data-events")],
        "fail",
        "listed with its own result"
    );
    // Delivery is judged: the compliant trail delivered within the day.
    let checks = c["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == json!(arn("org-audit")))
        .unwrap()["checks"]
        .clone();
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["fact"] == "trail.latest_delivery" && k["verdict"] == "pass"),
        "{checks}"
    );
}

/// The wrong answer this prevents: an any-of control passing on a trail that is not compliant.
#[tokio::test(flavor = "multi_thread")]
async fn builtin_cloudtrail_control_fails_when_only_a_data_events_trail_exists() {
    let (_acct, out, report) = builtin_cloudtrail(false).await;
    assert_eq!(out.status.code(), Some(i32::from(vouch::exit::FAILED)));
    assert_eq!(control_verdict(&report, "LOG-CLOUDTRAIL"), "fail");
    assert!(report["controls"][0].get("satisfied_by").is_none());
}
