//! The `aws.s3` and `aws.kms` probes and their shared client factory.
//!
//! Two kinds of AWS on loopback: moto's server (started by `scripts/setup.d/30-moto.sh`, seeded
//! here through the SDK) for what it implements, and, for what it cannot show (AccessDenied,
//! throttling, paginated listings, rotation periods and dates), a fake endpoint behind the SDK's
//! own test HTTP client (`aws-smithy-http-client` test-util) answering with bodies written from
//! the AWS API reference, so the real serialisers, deserialisers, retries and our error mapping
//! all run. Each gap is listed in docs/testing.md.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use vouch::inventory::Inventory;
use vouch::probe::aws::kms::KmsProbe;
use vouch::probe::aws::s3::S3Probe;
use vouch::probe::aws::{Aws, AwsOverrides, CALLER_IDENTITY};
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeErrorKind, ProbeOptions};

use crate::support;

const REGION: &str = "eu-west-1";

// ---------------------------------------------------------------------------------------------
// moto

fn moto_url() -> String {
    support::require(
        std::env::var("VOUCH_TEST_MOTO_URL").ok(),
        "moto's server (VOUCH_TEST_MOTO_URL)",
        "source scripts/setup.d/30-moto.sh",
    )
}

fn test_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "vouch-tests",
    ))
}

/// A factory whose only difference from production is where credentials come from.
fn moto_aws() -> Arc<Aws> {
    Aws::with_overrides(AwsOverrides {
        credentials: Some(test_credentials()),
        ..AwsOverrides::default()
    })
}

fn moto_ctx(url: &str) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.aws.endpoint_url = Some(url.into());
    ProbeContext::new(Arc::new(inv), ProbeOptions::default())
}

/// SDK config for seeding moto (the test's own admin clients).
async fn seed_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(test_credentials())
        .load()
        .await
}

fn seed_s3(cfg: &SdkConfig, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(cfg)
            .region(Region::new(region.to_string()))
            .force_path_style(true)
            .build(),
    )
}

/// A name no other test (or earlier run against the same server) uses.
fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{nanos:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str, region: &str) {
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
}

async fn set_encryption(s3: &aws_sdk_s3::Client, bucket: &str, rule: ServerSideEncryptionRule) {
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("put bucket encryption");
}

async fn observe(probe: &dyn Probe, target: &str, ctx: &ProbeContext) -> Observation {
    let obs = probe
        .observe(target, &Params::new(), ctx)
        .await
        .unwrap_or_else(|e| panic!("observing {target}: {e}"));
    support::assert_iam_policy_allows(&serde_json::to_value(&obs.evidence).unwrap());
    obs
}

fn fact<'a>(obs: &'a Observation, path: &str) -> &'a Value {
    obs.facts.get(path).unwrap_or_else(|| {
        panic!(
            "{path} not observed: {:?} (facts: {:?})",
            obs.unobserved.get(path),
            obs.facts
        )
    })
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

fn tls_only_policy(bucket: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    .to_string()
}

#[tokio::test]
async fn s3_sse_s3_bucket_reports_aes256_without_a_kms_key() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let bucket = unique("sse-s3");
    create_bucket(&s3, &bucket, REGION).await;
    set_encryption(
        &s3,
        &bucket,
        ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .unwrap(),
            )
            .build(),
    )
    .await;

    let ctx = moto_ctx(&url);
    let obs = observe(&S3Probe::new(moto_aws()), &bucket, &ctx).await;
    assert_eq!(fact(&obs, "encryption.enabled"), &json!(true));
    assert_eq!(fact(&obs, "encryption.algorithm"), &json!("AES256"));
    assert_eq!(fact(&obs, "encryption.kms_key_id"), &Value::Null);
    assert_eq!(fact(&obs, "encryption.bucket_key_enabled"), &json!(false));
    assert_eq!(fact(&obs, "region"), &json!(REGION));
    // Evidence: every call with its request id, region and the response as JSON.
    let calls = obs.evidence["api_calls"].as_array().unwrap();
    let enc = calls
        .iter()
        .find(|c| c["action"] == "s3:GetBucketEncryption")
        .expect("GetBucketEncryption evidence");
    assert!(enc["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(enc["region"], REGION);
    assert_eq!(
        enc["response"]["ServerSideEncryptionConfiguration"]["Rule"]["ApplyServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    // The account examined is recorded once for the run's report.
    assert_eq!(
        ctx.run_info()[CALLER_IDENTITY]["account"],
        json!("123456789012")
    );
}

#[tokio::test]
async fn s3_sse_kms_bucket_with_bucket_key_reports_the_key() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let bucket = unique("sse-kms");
    create_bucket(&s3, &bucket, REGION).await;
    let key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    set_encryption(
        &s3,
        &bucket,
        ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(key_arn)
                    .build()
                    .unwrap(),
            )
            .bucket_key_enabled(true)
            .build(),
    )
    .await;

    let obs = observe(&S3Probe::new(moto_aws()), &bucket, &moto_ctx(&url)).await;
    assert_eq!(fact(&obs, "encryption.enabled"), &json!(true));
    assert_eq!(fact(&obs, "encryption.algorithm"), &json!("aws:kms"));
    assert_eq!(fact(&obs, "encryption.kms_key_id"), &json!(key_arn));
    assert_eq!(fact(&obs, "encryption.bucket_key_enabled"), &json!(true));
}

#[tokio::test]
async fn s3_bucket_without_any_configuration_is_observed_false_not_an_error() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let bucket = unique("bare");
    create_bucket(&s3, &bucket, REGION).await;

    let obs = observe(&S3Probe::new(moto_aws()), &bucket, &moto_ctx(&url)).await;
    assert!(obs.unobserved.is_empty(), "{:?}", obs.unobserved);
    assert_eq!(fact(&obs, "encryption.enabled"), &json!(false));
    assert_eq!(fact(&obs, "encryption.algorithm"), &Value::Null);
    assert_eq!(fact(&obs, "public_access_block.all"), &json!(false));
    assert_eq!(
        fact(&obs, "policy.denies_insecure_transport"),
        &json!(false)
    );
    assert_eq!(fact(&obs, "versioning.status"), &json!("Disabled"));
    assert_eq!(fact(&obs, "object_lock.enabled"), &json!(false));
}

#[tokio::test]
async fn s3_public_access_block_all_needs_all_four_flags() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let full = unique("pab-full");
    let partial = unique("pab-partial");
    for (bucket, policy_flags) in [(&full, true), (&partial, false)] {
        create_bucket(&s3, bucket, REGION).await;
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(policy_flags)
                    .restrict_public_buckets(policy_flags)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let probe = S3Probe::new(moto_aws());
    let ctx = moto_ctx(&url);
    let on = observe(&probe, &full, &ctx).await;
    assert_eq!(fact(&on, "public_access_block.all"), &json!(true));
    let off = observe(&probe, &partial, &ctx).await;
    assert_eq!(fact(&off, "public_access_block.all"), &json!(false));
    assert_eq!(
        fact(&off, "public_access_block.block_public_acls"),
        &json!(true)
    );
    assert_eq!(
        fact(&off, "public_access_block.block_public_policy"),
        &json!(false)
    );
}

#[tokio::test]
async fn s3_policy_denying_plain_http_is_recognised_and_a_plain_policy_is_not() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let strict = unique("tls-only");
    let loose = unique("any-transport");
    create_bucket(&s3, &strict, REGION).await;
    create_bucket(&s3, &loose, REGION).await;
    s3.put_bucket_policy()
        .bucket(&strict)
        .policy(tls_only_policy(&strict))
        .send()
        .await
        .unwrap();
    let allow_read = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{loose}/*")}]});
    s3.put_bucket_policy()
        .bucket(&loose)
        .policy(allow_read.to_string())
        .send()
        .await
        .unwrap();

    let probe = S3Probe::new(moto_aws());
    let ctx = moto_ctx(&url);
    let obs = observe(&probe, &strict, &ctx).await;
    assert_eq!(fact(&obs, "policy.denies_insecure_transport"), &json!(true));
    let obs = observe(&probe, &loose, &ctx).await;
    assert_eq!(
        fact(&obs, "policy.denies_insecure_transport"),
        &json!(false)
    );
}

#[tokio::test]
async fn s3_versioned_object_lock_bucket_reports_both() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let bucket = unique("worm");
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let obs = observe(&S3Probe::new(moto_aws()), &bucket, &moto_ctx(&url)).await;
    assert_eq!(fact(&obs, "object_lock.enabled"), &json!(true));
    assert_eq!(fact(&obs, "versioning.status"), &json!("Enabled"));
}

#[tokio::test]
async fn s3_bucket_in_another_region_is_read_in_its_own_region() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let bucket = unique("far");
    create_bucket(&seed_s3(&cfg, "us-west-2"), &bucket, "us-west-2").await;

    let obs = observe(&S3Probe::new(moto_aws()), &bucket, &moto_ctx(&url)).await;
    assert_eq!(fact(&obs, "region"), &json!("us-west-2"));
    let calls = obs.evidence["api_calls"].as_array().unwrap();
    let enc = calls
        .iter()
        .find(|c| c["action"] == "s3:GetBucketEncryption")
        .unwrap();
    assert_eq!(enc["region"], "us-west-2");
}

#[tokio::test]
async fn s3_unknown_bucket_is_not_found_with_a_hint() {
    let url = moto_url();
    let err = S3Probe::new(moto_aws())
        .observe(&unique("missing"), &Params::new(), &moto_ctx(&url))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no bucket named"), "{err}");
    assert!(err.hint.is_some());
}

#[tokio::test]
async fn s3_discovery_lists_every_bucket_in_every_region() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let mut made = Vec::new();
    for (i, region) in ["eu-west-1", "us-west-2", "eu-west-1"].iter().enumerate() {
        let name = unique(&format!("disc{i}"));
        create_bucket(&seed_s3(&cfg, region), &name, region).await;
        made.push(name);
    }
    let probe = S3Probe::new(moto_aws());
    let ctx = moto_ctx(&url);
    assert!(probe.is_pattern("*"));
    let found = probe.discover("*", &ctx).await.unwrap();
    for name in &made {
        assert!(found.contains(name), "{name} not discovered");
    }
    let far = observe(&probe, &made[1], &ctx).await;
    assert_eq!(fact(&far, "region"), &json!("us-west-2"));
}

#[tokio::test]
async fn kms_keys_on_moto_report_kind_state_and_rotation() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let kms = aws_sdk_kms::Client::new(&cfg);
    // moto leaves KeyUsage out of DescribeKey unless it was given at creation; AWS always
    // returns it (the replay tests read it from the API reference shape).
    let new_key = || async {
        kms.create_key()
            .key_usage(KeyUsageType::EncryptDecrypt)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_string()
    };
    let rotating = new_key().await;
    kms.enable_key_rotation()
        .key_id(&rotating)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let alias = format!("alias/{}", unique("rotating"));
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&rotating)
        .send()
        .await
        .unwrap();
    let still = new_key().await;
    let disabled = new_key().await;
    kms.disable_key().key_id(&disabled).send().await.unwrap();
    let asymmetric = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();

    let probe = KmsProbe::new(moto_aws());
    let ctx = moto_ctx(&url);

    // By alias: rotation on. moto keeps no period or next date: those stay unobserved (never a
    // guess); the replay tests below read them.
    let obs = observe(&probe, &alias, &ctx).await;
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(true));
    assert_eq!(fact(&obs, "key.state"), &json!("Enabled"));
    assert_eq!(fact(&obs, "key.manager"), &json!("CUSTOMER"));
    assert_eq!(fact(&obs, "key.spec"), &json!("SYMMETRIC_DEFAULT"));
    assert_eq!(fact(&obs, "key.usage"), &json!("ENCRYPT_DECRYPT"));
    assert_eq!(fact(&obs, "key.origin"), &json!("AWS_KMS"));
    assert!(obs.unobserved.contains_key("rotation.period_days"));
    // Never rotated: the key material dates from the key's creation.
    assert_eq!(
        fact(&obs, "rotation.last_rotated"),
        fact(&obs, "key.created")
    );
    assert_eq!(fact(&obs, "rotation.age_days"), &json!(0));

    let obs = observe(&probe, &still, &ctx).await;
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(false));
    assert_eq!(fact(&obs, "rotation.period_days"), &Value::Null);
    assert_eq!(fact(&obs, "rotation.next_rotation"), &Value::Null);

    let obs = observe(&probe, &disabled, &ctx).await;
    assert_eq!(fact(&obs, "key.state"), &json!("Disabled"));

    // By key ARN: the same key as by id.
    let arn = format!("arn:aws:kms:{REGION}:123456789012:key/{still}");
    let obs = observe(&probe, &arn, &ctx).await;
    assert_eq!(obs.evidence["key"]["key_id"], json!(still));
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(false));

    // Asymmetric keys cannot rotate; they are still observed, so a control can scope them out.
    let obs = observe(&probe, &asymmetric, &ctx).await;
    assert_eq!(fact(&obs, "key.spec"), &json!("RSA_2048"));
    assert_eq!(fact(&obs, "key.usage"), &json!("SIGN_VERIFY"));
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(false));
    assert!(obs.facts.contains_key("rotation.age_days"));

    // Discovery finds all of them.
    let found = probe.discover("*", &ctx).await.unwrap();
    for k in [&rotating, &still, &disabled, &asymmetric] {
        assert!(found.contains(k), "{k} not discovered");
    }
}

#[tokio::test]
async fn kms_on_demand_rotations_over_several_pages_give_the_newest_date() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    for _ in 0..5 {
        kms.rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .unwrap();
    }
    let rotations = kms.list_key_rotations().key_id(&key).send().await.unwrap();
    let newest = rotations
        .rotations()
        .iter()
        .filter_map(|r| r.rotation_date())
        .max_by_key(|d| (d.secs(), d.subsec_nanos()))
        .map(|d| jiff::Timestamp::new(d.secs(), d.subsec_nanos() as i32).unwrap())
        .unwrap();

    let probe = KmsProbe::new(moto_aws()).with_page_size(2);
    let obs = observe(&probe, &key, &moto_ctx(&url)).await;
    assert_eq!(
        fact(&obs, "rotation.last_rotated"),
        &json!(newest.to_string())
    );
    let pages = actions(&obs)
        .iter()
        .filter(|a| *a == "kms:ListKeyRotations")
        .count();
    assert_eq!(pages, 3, "5 rotations at 2 per page");
}

#[tokio::test]
async fn kms_unknown_alias_is_not_found() {
    let url = moto_url();
    let err = KmsProbe::new(moto_aws())
        .observe(
            &format!("alias/{}", unique("nope")),
            &Params::new(),
            &moto_ctx(&url),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::NotFound, "{err}");
}

// ---------------------------------------------------------------------------------------------
// A fake AWS endpoint behind the SDK's own test HTTP client, answering with response shapes
// from the AWS API reference, for what moto does not implement.

const AUDITOR: &str = "arn:aws:iam::111122223333:role/auditor";

#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    /// S3's `x-amz-bucket-region` header, when the answer carries one.
    bucket_region: Option<&'static str>,
}

fn ok(body: impl Into<String>) -> Reply {
    Reply {
        status: 200,
        body: body.into(),
        bucket_region: None,
    }
}

fn kms_error(code: &str, message: &str) -> Reply {
    Reply {
        status: 400,
        body: json!({"__type": code, "message": message}).to_string(),
        bucket_region: None,
    }
}

/// Scripted answers per API action; the last answer of an action repeats. Requests are recorded
/// (action and URI) so tests can see what was asked, and where.
#[derive(Default)]
struct FakeAws {
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Answers computed from (action, request body), for several resources at once.
    by_request: Mutex<Option<Responder>>,
    seen: Mutex<Vec<(String, String)>>,
}

type Responder = Arc<dyn Fn(&str, &str) -> Reply + Send + Sync>;

impl FakeAws {
    fn on(self: &Arc<Self>, action: &str, replies: Vec<Reply>) -> Arc<Self> {
        self.script
            .lock()
            .unwrap()
            .insert(action.to_string(), replies.into());
        self.clone()
    }

    fn by_request(&self, responder: Responder) {
        *self.by_request.lock().unwrap() = Some(responder);
    }

    fn count(&self, action: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| a == action)
            .count()
    }

    fn uris(&self, action: &str) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, u)| u.clone())
            .collect()
    }

    fn action_of(req: &http::Request<SdkBody>) -> String {
        if let Some(target) = req.headers().get("x-amz-target") {
            let t = target.to_str().unwrap_or_default();
            return t.rsplit('.').next().unwrap_or(t).to_string();
        }
        let body = req
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            return action.to_string();
        }
        if req
            .uri()
            .path()
            .ends_with("/v20180820/configuration/publicAccessBlock")
        {
            return "GetAccountPublicAccessBlock".to_string();
        }
        let query = req.uri().query().unwrap_or("");
        let has = |k: &str| query.split('&').any(|kv| kv.split('=').next() == Some(k));
        let action = if req.method() == http::Method::HEAD {
            "HeadBucket"
        } else if has("encryption") {
            "GetBucketEncryption"
        } else if has("versioning") {
            "GetBucketVersioning"
        } else if has("publicAccessBlock") {
            "GetPublicAccessBlock"
        } else if has("policy") {
            "GetBucketPolicy"
        } else if has("object-lock") {
            "GetObjectLockConfiguration"
        } else {
            "ListBuckets"
        };
        action.to_string()
    }

    fn answer(&self, req: http::Request<SdkBody>) -> http::Response<SdkBody> {
        let action = Self::action_of(&req);
        self.seen
            .lock()
            .unwrap()
            .push((action.clone(), req.uri().to_string()));
        let body = req
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let responder = self.by_request.lock().unwrap().clone();
        let reply = if let Some(r) = responder.filter(|_| action != "GetCallerIdentity") {
            Some(r(&action, &body))
        } else {
            let mut script = self.script.lock().unwrap();
            match script.get_mut(&action) {
                Some(q) if q.len() > 1 => q.pop_front(),
                Some(q) => q.front().cloned(),
                None if action == "GetCallerIdentity" => Some(ok(format!(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>{AUDITOR}</Arn>
    <UserId>AROAEXAMPLEID:auditor</UserId>
    <Account>111122223333</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#
                ))),
                // An account without an account-level block, in S3 Control's wrapped error form.
                None if action == "GetAccountPublicAccessBlock" => Some(Reply {
                    status: 404,
                    body: "<ErrorResponse><Error><Code>NoSuchPublicAccessBlockConfiguration</Code>\
                        <Message>The public access block configuration was not found</Message>\
                        </Error><RequestId>4442587FB7D0A2F9</RequestId></ErrorResponse>"
                        .into(),
                    bucket_region: None,
                }),
                None => None,
            }
        };
        let reply = reply.unwrap_or_else(|| panic!("unscripted AWS call {action}"));
        let n = self.seen.lock().unwrap().len();
        let response = http::Response::builder()
            .status(reply.status)
            .header("x-amzn-requestid", format!("req-{action}-{n}"))
            .header("x-amz-request-id", format!("req-{action}-{n}"));
        let response = match reply.bucket_region {
            Some(r) => response.header("x-amz-bucket-region", r),
            None => response,
        };
        response.body(SdkBody::from(reply.body)).unwrap()
    }

    /// A factory whose HTTP client is this fake (everything else is the production path).
    fn factory(self: &Arc<Self>) -> Arc<Aws> {
        let me = self.clone();
        Aws::with_overrides(AwsOverrides {
            credentials: Some(test_credentials()),
            http_client: Some(aws_smithy_http_client::test_util::infallible_client_fn(
                move |req| me.answer(req),
            )),
            // Adaptive like production, with back-off short enough for a test.
            retry: Some(
                RetryConfig::adaptive()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(5)),
            ),
        })
    }
}

fn fake_ctx() -> ProbeContext {
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    // One listed region: the fake answers one region's calls (unset would ask DescribeRegions).
    inv.aws.regions = Some(vec![REGION.into()]);
    ProbeContext::new(Arc::new(inv), ProbeOptions::default())
}

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn describe_key(spec: &str, usage: &str, manager: &str, created: i64) -> Reply {
    ok(json!({"KeyMetadata": {
        "AWSAccountId": "111122223333", "KeyId": KEY_ID,
        "Arn": format!("arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID}"),
        "CreationDate": created, "Enabled": true, "Description": "",
        "KeyUsage": usage, "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": manager,
        "KeySpec": spec, "CustomerMasterKeySpec": spec, "MultiRegion": false}})
    .to_string())
}

fn days_ago(days: i64) -> i64 {
    jiff::Timestamp::now().as_second() - days * 86_400
}

fn rfc3339(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch).unwrap().to_string()
}

#[tokio::test]
async fn kms_rotation_period_next_date_and_newest_of_paged_rotations() {
    let created = days_ago(400);
    let auto = days_ago(300);
    let on_demand = days_ago(40);
    let next = days_ago(-50);
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![describe_key(
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                "CUSTOMER",
                created,
            )],
        )
        .on(
            "GetKeyRotationStatus",
            vec![ok(json!({"KeyId": KEY_ID, "KeyRotationEnabled": true,
                "RotationPeriodInDays": 90, "NextRotationDate": next})
            .to_string())],
        )
        .on(
            "ListKeyRotations",
            vec![
                ok(json!({"Rotations": [{"KeyId": KEY_ID, "RotationDate": auto,
                    "RotationType": "AUTOMATIC"}], "NextMarker": "page2", "Truncated": true})
                .to_string()),
                ok(
                    json!({"Rotations": [{"KeyId": KEY_ID, "RotationDate": on_demand,
                    "RotationType": "ON_DEMAND"}], "Truncated": false})
                    .to_string(),
                ),
            ],
        );
    let probe = KmsProbe::new(fake.factory());
    let ctx = fake_ctx();
    let obs = observe(&probe, KEY_ID, &ctx).await;
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(true));
    assert_eq!(fact(&obs, "rotation.period_days"), &json!(90));
    assert_eq!(fact(&obs, "rotation.next_rotation"), &json!(rfc3339(next)));
    assert_eq!(
        fact(&obs, "rotation.last_rotated"),
        &json!(rfc3339(on_demand))
    );
    assert_eq!(fact(&obs, "rotation.age_days"), &json!(40));
    assert_eq!(fact(&obs, "key.created"), &json!(rfc3339(created)));
    assert_eq!(fake.count("ListKeyRotations"), 2);
    assert_eq!(ctx.run_info()[CALLER_IDENTITY]["arn"], json!(AUDITOR));
    let rendered = probe.render(&obs).unwrap();
    assert!(
        rendered.contains("90") && rendered.contains(KEY_ID),
        "{rendered}"
    );
}

#[tokio::test]
async fn kms_asymmetric_key_that_cannot_rotate_is_still_observed() {
    let created = days_ago(10);
    let unsupported = kms_error(
        "UnsupportedOperationException",
        &format!("arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID} origin is not supported"),
    );
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![describe_key("RSA_2048", "SIGN_VERIFY", "CUSTOMER", created)],
        )
        .on("GetKeyRotationStatus", vec![unsupported.clone()])
        .on("ListKeyRotations", vec![unsupported]);
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(false));
    assert_eq!(fact(&obs, "rotation.period_days"), &Value::Null);
    assert_eq!(
        fact(&obs, "rotation.last_rotated"),
        &json!(rfc3339(created))
    );
    assert_eq!(fact(&obs, "rotation.age_days"), &json!(10));
    assert_eq!(fact(&obs, "key.spec"), &json!("RSA_2048"));
}

/// A key whose DescribeKey says `origin`, everything else as [`describe_key`].
fn describe_key_with_origin(origin: &str, spec: &str, usage: &str, created: i64) -> Reply {
    ok(json!({"KeyMetadata": {
        "AWSAccountId": "111122223333", "KeyId": KEY_ID,
        "Arn": format!("arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID}"),
        "CreationDate": created, "Enabled": true, "Description": "",
        "KeyUsage": usage, "KeyState": "Enabled", "Origin": origin, "KeyManager": "CUSTOMER",
        "KeySpec": spec, "CustomerMasterKeySpec": spec, "MultiRegion": false,
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}})
    .to_string())
}

/// The built-in `KEY-ROTATION`, loaded as `vouch check` loads it, evaluated on `obs`.
fn builtin_key_rotation(obs: &Observation) -> vouch::report::TargetResult {
    let registry = vouch::probe::Registry::with(vec![Arc::new(KmsProbe::new(Aws::new()))]);
    let mut diags = vouch::diag::Diagnostics::new();
    let control = vouch::control::load_controls(
        &[vouch::control::Source::Path(
            support::repo().join("controls/02-encryption.toml"),
        )],
        &registry,
        None,
        &mut diags,
    )
    .into_iter()
    .find(|c| c.id == "KEY-ROTATION")
    .unwrap_or_else(|| panic!("the built-in KEY-ROTATION: {}", diags.render(false)));
    vouch::engine::evaluate(&control, obs, None, jiff::Timestamp::now())
}

/// Imported key material (Origin EXTERNAL) cannot rotate automatically. The wrong answers
/// prevented: an n/a that only says `key.origin == AWS_KMS` (old main) where the report must
/// say why ("imported material: rotate on demand"), an imported key with no age a control can
/// judge, and the n/a swallowing a KMS-generated key that does not rotate (still a fail).
#[tokio::test]
async fn kms_imported_key_is_rotation_na_with_its_reason_and_an_age_to_judge() {
    use vouch::expect::Verdict;
    let created = days_ago(500);
    let unsupported = kms_error(
        "UnsupportedOperationException",
        &format!(
            "arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID} origin is EXTERNAL which is not valid for this operation."
        ),
    );
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![describe_key_with_origin(
                "EXTERNAL",
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                created,
            )],
        )
        .on("GetKeyRotationStatus", vec![unsupported.clone()])
        .on("ListKeyRotations", vec![unsupported]);
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    assert_eq!(fact(&obs, "key.origin"), &json!("EXTERNAL"));
    assert_eq!(
        fact(&obs, "rotation.manual_only"),
        &json!("imported material: rotate on demand")
    );
    assert_eq!(fact(&obs, "key.age_days"), &json!(500));
    let r = builtin_key_rotation(&obs);
    assert_eq!(r.verdict, Verdict::NotApplicable, "{r:?}");
    let why = r.error.clone().unwrap_or_default();
    assert!(why.contains("imported material: rotate on demand"), "{why}");

    // A KMS-generated symmetric key 500 days old that never rotated: in scope, and a fail.
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![describe_key_with_origin(
                "AWS_KMS",
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                created,
            )],
        )
        .on(
            "GetKeyRotationStatus",
            vec![ok(
                json!({"KeyRotationEnabled": false, "KeyId": KEY_ID}).to_string()
            )],
        )
        .on(
            "ListKeyRotations",
            vec![ok(json!({"Rotations": [], "Truncated": false}).to_string())],
        );
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    assert_eq!(fact(&obs, "rotation.manual_only"), &Value::Null);
    assert_eq!(builtin_key_rotation(&obs).verdict, Verdict::Fail);

    // An asymmetric signing key: n/a, and the reason says why.
    let unsupported = kms_error("UnsupportedOperationException", "not supported");
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![describe_key_with_origin(
                "AWS_KMS",
                "ECC_NIST_P256",
                "SIGN_VERIFY",
                created,
            )],
        )
        .on("GetKeyRotationStatus", vec![unsupported.clone()])
        .on("ListKeyRotations", vec![unsupported]);
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    let r = builtin_key_rotation(&obs);
    assert_eq!(r.verdict, Verdict::NotApplicable);
    assert!(
        r.error
            .as_deref()
            .unwrap_or_default()
            .contains("asymmetric or HMAC"),
        "{r:?}"
    );
}

#[tokio::test]
async fn kms_access_denied_names_the_action_and_the_principal() {
    let denied = kms_error(
        "AccessDeniedException",
        &format!(
            "User: {AUDITOR} is not authorized to perform: kms:DescribeKey on resource: \
             arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID} because no identity-based policy \
             allows the kms:DescribeKey action"
        ),
    );
    let fake = Arc::new(FakeAws::default()).on("DescribeKey", vec![denied]);
    let err = KmsProbe::new(fake.factory())
        .observe(KEY_ID, &Params::new(), &fake_ctx())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied);
    assert!(err.message.contains("kms:DescribeKey"), "{err}");
    assert!(err.message.contains(AUDITOR), "{err}");
    assert!(err.hint.as_deref().unwrap().contains("kms:DescribeKey"));
}

#[tokio::test]
async fn kms_one_denied_call_leaves_only_its_facts_unobserved() {
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![describe_key(
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                "CUSTOMER",
                days_ago(5),
            )],
        )
        .on(
            "GetKeyRotationStatus",
            vec![ok(json!({"KeyRotationEnabled": false}).to_string())],
        )
        .on(
            "ListKeyRotations",
            vec![kms_error("AccessDeniedException", "not authorized")],
        );
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(false));
    let why = &obs.unobserved["rotation.last_rotated"];
    assert!(
        why.contains("kms:ListKeyRotations") && why.contains(AUDITOR),
        "{why}"
    );
    assert!(obs.unobserved.contains_key("rotation.age_days"));
    assert!(!obs.facts.contains_key("rotation.last_rotated"));
}

#[tokio::test]
async fn kms_throttling_is_retried_until_it_succeeds() {
    let throttled = kms_error("ThrottlingException", "Rate exceeded");
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![
                throttled.clone(),
                throttled,
                describe_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS", days_ago(1)),
            ],
        )
        .on(
            "GetKeyRotationStatus",
            vec![ok(
                json!({"KeyRotationEnabled": true, "RotationPeriodInDays": 365,
                "NextRotationDate": days_ago(-364)})
                .to_string(),
            )],
        )
        .on(
            "ListKeyRotations",
            vec![ok(json!({"Rotations": [], "Truncated": false}).to_string())],
        );
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    assert_eq!(fake.count("DescribeKey"), 3);
    assert_eq!(fact(&obs, "key.manager"), &json!("AWS"));
    assert_eq!(fact(&obs, "rotation.period_days"), &json!(365));
    let calls = obs.evidence["api_calls"].as_array().unwrap();
    let describe = calls
        .iter()
        .find(|c| c["action"] == "kms:DescribeKey")
        .unwrap();
    assert_eq!(describe["attempts"], json!(3));
}

#[tokio::test]
async fn kms_throttling_that_persists_is_an_error_never_a_pass() {
    let fake = Arc::new(FakeAws::default()).on(
        "DescribeKey",
        vec![kms_error("ThrottlingException", "Rate exceeded")],
    );
    let err = KmsProbe::new(fake.factory())
        .observe(KEY_ID, &Params::new(), &fake_ctx())
        .await
        .unwrap_err();
    assert_eq!(fake.count("DescribeKey"), 3);
    assert!(
        err.message.contains("still throttled after 3 attempts"),
        "{err}"
    );
    assert!(err.hint.as_deref().unwrap().contains("--aws-concurrency"));
}

#[tokio::test]
async fn kms_discovery_follows_every_page_including_an_empty_one() {
    let key = |id: &str| json!({"KeyId": id, "KeyArn": format!("arn:aws:kms:eu-west-1:111122223333:key/{id}")});
    let fake = Arc::new(FakeAws::default()).on(
        "ListKeys",
        vec![
            ok(
                json!({"Keys": [key("k1"), key("k2")], "NextMarker": "m1", "Truncated": true})
                    .to_string(),
            ),
            ok(json!({"Keys": [], "NextMarker": "m2", "Truncated": true}).to_string()),
            ok(json!({"Keys": [key("k3")], "Truncated": false}).to_string()),
        ],
    );
    let found = KmsProbe::new(fake.factory())
        .with_page_size(2)
        .discover("*", &fake_ctx())
        .await
        .unwrap();
    assert_eq!(found, vec!["k1", "k2", "k3"]);
    assert_eq!(fake.count("ListKeys"), 3);
}

#[tokio::test]
async fn kms_discovery_stops_when_a_marker_repeats() {
    let fake = Arc::new(FakeAws::default()).on(
        "ListKeys",
        vec![ok(
            json!({"Keys": [{"KeyId": "k1"}], "NextMarker": "same", "Truncated": true}).to_string(),
        )],
    );
    let found = KmsProbe::new(fake.factory())
        .discover("*", &fake_ctx())
        .await
        .unwrap();
    assert_eq!(found, vec!["k1"]);
    assert_eq!(fake.count("ListKeys"), 2);
}

fn list_buckets_page(buckets: &[(&str, &str)], token: Option<&str>) -> Reply {
    let items: String = buckets
        .iter()
        .map(|(name, region)| {
            format!(
                "<Bucket><Name>{name}</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate>\
                 <BucketRegion>{region}</BucketRegion></Bucket>"
            )
        })
        .collect();
    let token = token
        .map(|t| format!("<ContinuationToken>{t}</ContinuationToken>"))
        .unwrap_or_default();
    ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Owner><ID>abc123</ID></Owner><Buckets>{items}</Buckets>{token}</ListAllMyBucketsResult>"#
    ))
}

fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    Reply {
        status,
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        ),
        bucket_region: None,
    }
}

/// Every S3 read of a bare bucket, as the API reference shapes them.
fn bare_bucket(fake: Arc<FakeAws>) -> Arc<FakeAws> {
    fake.on(
        "GetBucketEncryption",
        vec![s3_error(
            404,
            "ServerSideEncryptionConfigurationNotFoundError",
            "The server side encryption configuration was not found",
        )],
    )
    .on(
        "GetBucketVersioning",
        vec![ok(
            r#"<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>"#,
        )],
    )
    .on(
        "GetPublicAccessBlock",
        vec![s3_error(
            404,
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        )],
    )
    .on(
        "GetBucketPolicy",
        vec![s3_error(
            404,
            "NoSuchBucketPolicy",
            "The bucket policy does not exist",
        )],
    )
    .on(
        "GetObjectLockConfiguration",
        vec![s3_error(
            404,
            "ObjectLockConfigurationNotFoundError",
            "Object Lock configuration does not exist for this bucket",
        )],
    )
}

#[tokio::test]
async fn s3_discovery_follows_continuation_tokens_and_keeps_each_buckets_region() {
    let fake = bare_bucket(Arc::new(FakeAws::default()).on(
        "ListBuckets",
        vec![
            list_buckets_page(&[("alpha", "eu-west-1"), ("beta", "us-west-2")], Some("t1")),
            list_buckets_page(&[("gamma", "ap-southeast-2")], None),
        ],
    ));
    let probe = S3Probe::new(fake.factory()).with_page_size(2);
    let ctx = fake_ctx();
    let found = probe.discover("*", &ctx).await.unwrap();
    assert_eq!(found, vec!["alpha", "beta", "gamma"]);
    let pages = fake.uris("ListBuckets");
    assert_eq!(pages.len(), 2);
    assert!(pages[0].contains("max-buckets=2"), "{pages:?}");
    assert!(pages[1].contains("continuation-token=t1"), "{pages:?}");
    // Where the population came from is kept for the report's run section.
    let provenance = &ctx.run_info()["aws.s3.discovery"];
    assert_eq!(provenance["buckets"], 3);
    assert_eq!(provenance["api_calls"].as_array().unwrap().len(), 2);
    assert!(provenance["api_calls"][1]["request_id"].is_string());

    // The region learnt from the listing is used: no HeadBucket, calls go to that region.
    let obs = observe(&probe, "gamma", &ctx).await;
    assert_eq!(fact(&obs, "region"), &json!("ap-southeast-2"));
    assert_eq!(fact(&obs, "versioning.status"), &json!("Suspended"));
    assert_eq!(fake.count("HeadBucket"), 0);
    assert!(
        fake.uris("GetBucketEncryption")[0].contains("ap-southeast-2"),
        "{:?}",
        fake.uris("GetBucketEncryption")
    );
}

#[tokio::test]
async fn s3_denied_policy_read_leaves_only_the_policy_fact_unobserved() {
    let fake = bare_bucket(Arc::new(FakeAws::default()))
        .on("HeadBucket", vec![ok("")])
        .on(
            "GetBucketPolicy",
            vec![s3_error(403, "AccessDenied", "Access Denied")],
        );
    let obs = observe(&S3Probe::new(fake.factory()), "alpha", &fake_ctx()).await;
    let why = &obs.unobserved["policy.denies_insecure_transport"];
    assert!(
        why.contains("s3:GetBucketPolicy") && why.contains(AUDITOR),
        "{why}"
    );
    assert_eq!(fact(&obs, "encryption.enabled"), &json!(false));
    assert_eq!(fact(&obs, "public_access_block.all"), &json!(false));
    // The fake's account has no account-level block (AWS's wrapped 404): observed as none.
    assert_eq!(fact(&obs, "public_access_block.account_all"), &json!(false));
    assert_eq!(
        fact(&obs, "public_access_block.effective_all"),
        &json!(false)
    );
}

#[tokio::test]
async fn s3_denied_account_block_leaves_only_the_account_and_effective_facts_unobserved() {
    let fake = bare_bucket(Arc::new(FakeAws::default()))
        .on("HeadBucket", vec![ok("")])
        .on(
            "GetAccountPublicAccessBlock",
            vec![Reply {
                status: 403,
                body: "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Access Denied\
                       </Message></Error><RequestId>1</RequestId></ErrorResponse>"
                    .into(),
                bucket_region: None,
            }],
        );
    let obs = observe(&S3Probe::new(fake.factory()), "alpha", &fake_ctx()).await;
    for path in [
        "public_access_block.account_all",
        "public_access_block.effective_all",
    ] {
        let why = &obs.unobserved[path];
        assert!(
            why.contains("s3:GetAccountPublicAccessBlock") && why.contains(AUDITOR),
            "{path}: {why}"
        );
    }
    // A denied account read is never a pass: the bucket's own facts stay, nothing is guessed.
    assert_eq!(fact(&obs, "public_access_block.all"), &json!(false));
    assert!(!obs.facts.contains_key("public_access_block.effective_all"));
}

#[tokio::test]
async fn s3_head_bucket_denied_without_a_region_is_an_error_for_that_bucket() {
    let fake = Arc::new(FakeAws::default()).on(
        "HeadBucket",
        vec![Reply {
            status: 403,
            body: String::new(),
            bucket_region: None,
        }],
    );
    let err = S3Probe::new(fake.factory())
        .observe("alpha", &Params::new(), &fake_ctx())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied, "{err}");
    assert!(err.message.contains("s3:HeadBucket"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// End to end: the shipped library's own controls, through the engine and the CLI.

/// An inventory pointed at `endpoint`, with the built-in controls' groups `aws_buckets` and
/// `aws_keys`.
fn example_inventory(dir: &std::path::Path, endpoint: &str, buckets: &[&str], keys: &[&str]) {
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
            "[targets]\naws_buckets = [{}]\naws_keys = [{}]\n\n[aws]\nregion = \"{REGION}\"\n\
             endpoint_url = \"{endpoint}\"\n",
            list(buckets),
            list(keys)
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn vouch_check_on_moto_passes_and_fails_the_right_buckets_and_keys() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let s3 = seed_s3(&cfg, REGION);
    let encrypted = unique("e2e-enc");
    let plain = unique("e2e-plain");
    create_bucket(&s3, &encrypted, REGION).await;
    create_bucket(&s3, &plain, REGION).await;
    set_encryption(
        &s3,
        &encrypted,
        ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .unwrap(),
            )
            .build(),
    )
    .await;
    let kms = aws_sdk_kms::Client::new(&cfg);
    let create = |spec: KeySpec, usage: KeyUsageType| {
        let kms = kms.clone();
        async move {
            kms.create_key()
                .key_spec(spec)
                .key_usage(usage)
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .key_id()
                .to_string()
        }
    };
    let not_rotating = create(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await;
    let signing = create(KeySpec::EccNistP256, KeyUsageType::SignVerify).await;

    let dir = tempfile::tempdir().unwrap();
    example_inventory(
        dir.path(),
        &url,
        &[&encrypted, &plain],
        &[&not_rotating, &signing],
    );
    let (out, report) = support::check_builtin_json_with_dummy_aws(
        &["ENC-REST-S3", "INFRA-BUCKETS-PRIVATE", "KEY-ROTATION"],
        &dir.path().join("vouch.toml"),
    );
    assert_eq!(out.status.code(), Some(1), "something fails");

    let enc = support::verdicts(&report, "ENC-REST-S3");
    assert_eq!(enc[&encrypted], "pass");
    assert_eq!(enc[&plain], "fail");
    let rot = support::verdicts(&report, "KEY-ROTATION");
    // Created just now, so its material is young: it fails on rotation being off, not on age.
    assert_eq!(rot[&not_rotating], "fail");
    let row = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "KEY-ROTATION")
        .unwrap()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == not_rotating.as_str())
        .unwrap()
        .clone();
    let failed: Vec<&str> = row["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] != "pass")
        .map(|c| c["fact"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["rotation.enabled"], "{row}");
    // An asymmetric key cannot rotate: outside the control's scope, shown, not dropped.
    assert_eq!(rot[&signing], "n/a");
    // The account examined is in the run section.
    assert_eq!(
        report["run"]["context"][CALLER_IDENTITY]["account"],
        "123456789012"
    );
}

#[tokio::test]
async fn vouch_check_through_the_engine_fails_a_key_whose_material_is_old() {
    // moto cannot backdate a key; the API-reference shapes can: one key rotated 40 days ago
    // (rotation on, 90-day period) and one created 400 days ago and never rotated.
    let fresh_id = "11111111-1111-1111-1111-111111111111";
    let stale_id = "22222222-2222-2222-2222-222222222222";
    let describe = |id: &str, created: i64| {
        json!({"KeyMetadata": {"KeyId": id, "Arn": format!("arn:aws:kms:eu-west-1:111122223333:key/{id}"),
            "CreationDate": created, "Enabled": true, "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
            "KeySpec": "SYMMETRIC_DEFAULT"}})
        .to_string()
    };
    let fresh_describe = describe(fresh_id, days_ago(500));
    let stale_describe = describe(stale_id, days_ago(400));
    let answers: Responder = Arc::new(move |action, body| {
        let fresh = body.contains(fresh_id);
        match action {
            "DescribeKey" if fresh => ok(fresh_describe.clone()),
            "DescribeKey" => ok(stale_describe.clone()),
            "GetKeyRotationStatus" if fresh => ok(json!({"KeyRotationEnabled": true,
                "RotationPeriodInDays": 90, "NextRotationDate": days_ago(-50)})
            .to_string()),
            "GetKeyRotationStatus" => ok(json!({"KeyRotationEnabled": false}).to_string()),
            "ListKeyRotations" if fresh => ok(json!({"Rotations": [{"KeyId": fresh_id,
                "RotationDate": days_ago(40), "RotationType": "AUTOMATIC"}], "Truncated": false})
            .to_string()),
            "ListKeyRotations" => ok(json!({"Rotations": [], "Truncated": false}).to_string()),
            other => panic!("unexpected {other}"),
        }
    });
    let fake = Arc::new(FakeAws::default());
    fake.by_request(answers);
    let aws = fake.factory();
    let registry = vouch::probe::Registry::with(vec![Arc::new(KmsProbe::new(aws))]);
    let controls = support::builtin_controls(&["KEY-ROTATION"]);
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.targets.insert(
        "aws_keys".into(),
        vec![fresh_id.to_string(), stale_id.to_string()],
    );
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let report = vouch::engine::run(
        &controls,
        &registry,
        &ctx,
        &vouch::engine::EngineOptions::default(),
        None,
        None,
    )
    .await;
    let report = serde_json::to_value(&report).unwrap();
    let rotation = support::verdicts(&report, "KEY-ROTATION");
    assert_eq!(rotation[fresh_id], "pass", "rotated 40 days ago");
    assert_eq!(rotation[stale_id], "fail", "never rotated in 400 days");
}

#[tokio::test]
async fn vouch_probe_star_prints_one_table_of_every_key() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms
        .create_key()
        .description("probe-star")
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    example_inventory(dir.path(), &url, &[], &[]);
    let out = support::vouch()
        .args(["probe", "aws.kms", "*", "--inventory"])
        .arg(dir.path().join("vouch.toml"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.matches("last rotated").count(),
        1,
        "one header: {stdout}"
    );
    assert!(stdout.contains(&key), "{stdout}");
    assert!(
        stderr.contains("observed, 0 could not be observed"),
        "{stderr}"
    );
}

#[test]
fn vouch_probe_without_credentials_says_how_to_provide_them() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here: the credential chain must fail before any request is sent.
    example_inventory(dir.path(), "http://127.0.0.1:1", &[], &[]);
    let mut cmd = support::vouch();
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(["probe", "aws.kms", "alias/anything", "--inventory"])
        .arg(dir.path().join("vouch.toml"))
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no usable AWS credentials"), "{stderr}");
    assert!(stderr.contains("aws sso login"), "{stderr}");
}

#[tokio::test]
async fn closed_endpoint_is_unreachable_with_a_hint() {
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.aws.endpoint_url = Some("http://127.0.0.1:1".into());
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let err = S3Probe::new(moto_aws())
        .observe("some-bucket", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Unreachable, "{err}");
    assert!(err.hint.as_deref().unwrap().contains("endpoint"), "{err}");
}

#[tokio::test]
async fn s3_head_bucket_redirect_names_the_buckets_region() {
    // S3 answers a HeadBucket sent to the wrong region with 301 and the bucket's region.
    let fake = bare_bucket(Arc::new(FakeAws::default())).on(
        "HeadBucket",
        vec![Reply {
            status: 301,
            body: String::new(),
            bucket_region: Some("ap-northeast-1"),
        }],
    );
    let obs = observe(&S3Probe::new(fake.factory()), "elsewhere", &fake_ctx()).await;
    assert_eq!(fact(&obs, "region"), &json!("ap-northeast-1"));
    let uri = &fake.uris("GetBucketPolicy")[0];
    assert!(uri.contains("ap-northeast-1"), "{uri}");
}

#[tokio::test]
async fn kms_key_pending_deletion_rotates_no_more_and_its_history_is_not_guessed() {
    let invalid = kms_error(
        "KMSInvalidStateException",
        &format!("arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID} is pending deletion."),
    );
    let describe = json!({"KeyMetadata": {"KeyId": KEY_ID, "CreationDate": days_ago(30),
        "Enabled": false, "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "PendingDeletion",
        "DeletionDate": days_ago(-7), "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT"}});
    let fake = Arc::new(FakeAws::default())
        .on("DescribeKey", vec![ok(describe.to_string())])
        .on("GetKeyRotationStatus", vec![invalid.clone()])
        .on("ListKeyRotations", vec![invalid]);
    let obs = observe(&KmsProbe::new(fake.factory()), KEY_ID, &fake_ctx()).await;
    assert_eq!(fact(&obs, "key.state"), &json!("PendingDeletion"));
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(false));
    let why = &obs.unobserved["rotation.last_rotated"];
    assert!(why.contains("KMSInvalidStateException"), "{why}");
}

/// `vouch probe aws.s3 BUCKET` with the settings given only through the environment or a profile.
fn probe_bucket_cli(bucket: &str, inventory: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = support::vouch();
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["probe", "aws.s3", bucket, "--format", "json", "--inventory"])
        .arg(inventory)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

#[tokio::test]
async fn aws_endpoint_url_from_the_environment_is_honoured_with_path_style_s3() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let bucket = unique("env-endpoint");
    create_bucket(&seed_s3(&cfg, REGION), &bucket, REGION).await;
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("vouch.toml");
    std::fs::write(&inv, format!("[aws]\nregion = \"{REGION}\"\n")).unwrap();
    let out = probe_bucket_cli(&bucket, &inv)
        .env("HOME", dir.path())
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(obs["facts"]["region"], REGION);
    // Signatures and credentials never reach the evidence.
    for secret in ["Signature=", "Credential=", "testing"] {
        assert!(!stdout.contains(secret), "{secret} in {stdout}");
    }
}

#[tokio::test]
async fn a_named_profile_supplies_region_and_credentials() {
    let url = moto_url();
    let cfg = seed_config(&url).await;
    let bucket = unique("profile");
    create_bucket(&seed_s3(&cfg, "us-west-2"), &bucket, "us-west-2").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!("[profile audit]\nregion = us-west-2\nendpoint_url = {url}\n"),
    )
    .unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[audit]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let inv = dir.path().join("vouch.toml");
    std::fs::write(&inv, "[aws]\nprofile = \"audit\"\n").unwrap();
    let out = probe_bucket_cli(&bucket, &inv)
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let obs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(obs["facts"]["region"], "us-west-2");
    let first = &obs["evidence"]["api_calls"][0];
    assert_eq!(first["action"], "s3:HeadBucket");
    assert_eq!(first["region"], "us-west-2", "the profile's region is home");
}

// ---------------------------------------------------------------------------------------------
// Politeness: `--aws-concurrency` caps the calls in flight to one service

/// The fake endpoint behind an asynchronous HTTP client that holds every answer for `delay`
/// and counts the KMS calls in flight, so a test can see the most that were ever open at once.
#[derive(Clone)]
struct SlowFake {
    fake: Arc<FakeAws>,
    delay: Duration,
    in_flight: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl std::fmt::Debug for SlowFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlowFake")
    }
}

impl aws_smithy_runtime_api::client::http::HttpConnector for SlowFake {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        let me = self.clone();
        aws_smithy_runtime_api::client::http::HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().expect("an http 1 request");
            let kms = request
                .headers()
                .get("x-amz-target")
                .is_some_and(|t| t.to_str().unwrap_or("").starts_with("TrentService."));
            if kms {
                let now = me.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                me.most.fetch_max(now, Ordering::SeqCst);
            }
            tokio::time::sleep(me.delay).await;
            let response = me.fake.answer(request);
            if kms {
                me.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            Ok(aws_smithy_runtime_api::http::Response::try_from(response).expect("a response"))
        })
    }
}

impl aws_smithy_runtime_api::client::http::HttpClient for SlowFake {
    fn http_connector(
        &self,
        _settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        aws_smithy_runtime_api::client::http::SharedHttpConnector::new(self.clone())
    }
}

/// Runs the example KMS controls over `keys` keys through the engine (32 observations at once,
/// each key its own "host") with `--aws-concurrency cap`; the most KMS calls ever in flight.
async fn most_kms_calls_in_flight(cap: usize, keys: usize) -> usize {
    let ids: Vec<String> = (0..keys)
        .map(|i| format!("{i:08}-0000-4000-8000-000000000000"))
        .collect();
    let answers: Responder = Arc::new(|action, body| {
        let id = body
            .split('"')
            .find(|s| s.ends_with("-0000-4000-8000-000000000000"))
            .unwrap_or("00000000-0000-4000-8000-000000000000")
            .to_string();
        match action {
            "DescribeKey" => ok(json!({"KeyMetadata": {"KeyId": id,
                "Arn": format!("arn:aws:kms:eu-west-1:111122223333:key/{id}"),
                "CreationDate": days_ago(30), "Enabled": true, "KeyUsage": "ENCRYPT_DECRYPT",
                "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
                "KeySpec": "SYMMETRIC_DEFAULT"}})
            .to_string()),
            "GetKeyRotationStatus" => ok(json!({"KeyRotationEnabled": true,
                "RotationPeriodInDays": 365, "NextRotationDate": days_ago(-335)})
            .to_string()),
            "ListKeyRotations" => ok(json!({"Rotations": [], "Truncated": false}).to_string()),
            other => panic!("unexpected {other}"),
        }
    });
    let fake = Arc::new(FakeAws::default());
    fake.by_request(answers);
    let slow = SlowFake {
        fake,
        delay: Duration::from_millis(40),
        in_flight: Arc::default(),
        most: Arc::default(),
    };
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(test_credentials()),
        http_client: Some(aws_smithy_runtime_api::client::http::SharedHttpClient::new(
            slow.clone(),
        )),
        retry: Some(RetryConfig::standard().with_max_attempts(1)),
    });
    let registry = vouch::probe::Registry::with(vec![Arc::new(KmsProbe::new(aws))]);
    let controls = support::builtin_controls(&["KEY-ROTATION"]);
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.targets.insert("aws_keys".into(), ids.clone());
    let options = ProbeOptions {
        cloud_concurrency: cap,
        ..ProbeOptions::default()
    };
    let ctx = ProbeContext::new(Arc::new(inv), options);
    let report = vouch::engine::run(
        &controls,
        &registry,
        &ctx,
        &vouch::engine::EngineOptions::default(),
        None,
        None,
    )
    .await;
    let report = serde_json::to_value(&report).unwrap();
    let on = support::verdicts(&report, "KEY-ROTATION");
    for id in &ids {
        assert_eq!(on[id], "pass", "{id}: every key was observed");
    }
    slow.most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_concurrency_caps_the_calls_in_flight_to_one_service() {
    // 12 keys, three calls each, 32 observations allowed at once by the engine: only the
    // per-service cap stands between the account and 36 concurrent KMS calls.
    let most = most_kms_calls_in_flight(3, 12).await;
    assert_eq!(most, 3, "the cap is reached and never passed");
    let most = most_kms_calls_in_flight(1, 6).await;
    assert_eq!(most, 1, "one call at a time");
}

/// `docs/iam-policy.json` (with `docs/iam-policy-management.json`, the management account's
/// listing and AssumeRole) is exactly the calls vouch's AWS probes can make: every
/// `session.call*(…, SERVICE, "Operation", …)` in `src/probe/aws/` is allowed (the wrong answer
/// prevented: a user attaching the documented policy and getting `error`s for a call it lacks),
/// and the policy allows nothing vouch never calls (least privilege).
#[test]
fn iam_policy_is_exactly_the_calls_the_aws_probes_make() {
    let call = regex::Regex::new(
        r#"\.call(?:_optional|_raw)?\(\s*&?\w+,\s*(SERVICE|"\w+"|\w+::SERVICE),\s*(?://[^\n]*\s*)?"(\w+)""#,
    )
    .unwrap();
    let service = regex::Regex::new(r#"const SERVICE: &str = "(\w+)""#).unwrap();
    let mut called = std::collections::BTreeSet::new();
    // Every file of the tree: a probe's submodules (aws/rds/tls.rs) make calls too.
    let mut files = Vec::new();
    let mut dirs = vec![support::repo().join("src/probe/aws")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let own = service.captures(&text).map(|c| c[1].to_string());
        for c in call.captures_iter(&text) {
            let svc = match &c[1] {
                "SERVICE" => own.clone().unwrap_or_else(|| panic!("{}", path.display())),
                s if s.ends_with("::SERVICE") => s.trim_end_matches("::SERVICE").to_string(),
                s => s.trim_matches('"').to_string(),
            };
            let api = format!("{svc}:{}", &c[2]);
            called.insert(vouch::probe::aws::error::iam_action(&api).to_string());
        }
        // A multi-account run's roles are assumed by the SDK's provider, not `session.call`.
        if text.contains("AssumeRoleProvider::builder") {
            called.insert("sts:AssumeRole".to_string());
        }
    }
    // Calls made through a client other than the module's own service.
    for extra in [
        "cloudfront:GetDistributionConfig",
        "s3:GetAccountPublicAccessBlock",
    ] {
        assert!(
            called.contains(extra),
            "the scan missed {extra}: {called:?}"
        );
    }
    assert!(called.len() > 30, "{called:?}");
    let policy = support::iam_policy_actions();
    let missing: Vec<_> = called.difference(&policy).collect();
    let unused: Vec<_> = policy.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "calls docs/iam-policy.json lacks: {missing:?}"
    );
    assert!(
        unused.is_empty(),
        "docs/iam-policy.json allows calls vouch never makes: {unused:?}"
    );
}

/// The wrong answer this prevents: a multi-Region replica key judged on its own creation date
/// and its own (non-existent) rotation schedule, when it shares its primary's key material.
#[tokio::test]
async fn kms_multi_region_replica_takes_its_rotation_from_its_primary() {
    let primary_arn = format!("arn:aws:kms:us-east-1:111122223333:key/mrk-{KEY_ID}");
    let replica_arn = format!("arn:aws:kms:eu-west-1:111122223333:key/mrk-{KEY_ID}");
    let meta = |arn: &str, created: i64, kind: &str| {
        ok(json!({"KeyMetadata": {
            "AWSAccountId": "111122223333", "KeyId": format!("mrk-{KEY_ID}"), "Arn": arn,
            "CreationDate": created, "Enabled": true, "Description": "",
            "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": true,
            "MultiRegionConfiguration": {
                "MultiRegionKeyType": kind,
                "PrimaryKey": {"Arn": primary_arn, "Region": "us-east-1"},
                "ReplicaKeys": [{"Arn": replica_arn, "Region": "eu-west-1"}]}}})
        .to_string())
    };
    let primary_created = days_ago(900);
    let rotated = days_ago(20);
    let fake = Arc::new(FakeAws::default())
        .on(
            "DescribeKey",
            vec![
                // The replica was made last week; the material is the primary's, 900 days old
                // and rotated 20 days ago (on demand).
                meta(&replica_arn, days_ago(7), "REPLICA"),
                meta(&primary_arn, primary_created, "PRIMARY"),
            ],
        )
        .on(
            "GetKeyRotationStatus",
            vec![ok(json!({"KeyId": primary_arn, "KeyRotationEnabled": true,
                "RotationPeriodInDays": 365, "NextRotationDate": days_ago(-345),
                "OnDemandRotationStartDate": rotated})
            .to_string())],
        )
        .on(
            "ListKeyRotations",
            vec![ok(
                json!({"Rotations": [{"KeyId": primary_arn, "RotationDate": rotated,
                "RotationType": "ON_DEMAND"}], "Truncated": false})
                .to_string(),
            )],
        );
    let probe = KmsProbe::new(fake.factory());
    let obs = observe(&probe, &replica_arn, &fake_ctx()).await;
    assert_eq!(fact(&obs, "key.multi_region_type"), &json!("REPLICA"));
    assert_eq!(fact(&obs, "rotation.age_days"), &json!(20));
    assert_eq!(fact(&obs, "rotation.enabled"), &json!(true));
    assert_eq!(
        obs.evidence["rotation_source"]["primary"],
        json!(primary_arn)
    );
    assert_eq!(obs.evidence["newest_rotation_type"], json!("ON_DEMAND"));
    assert_eq!(
        obs.evidence["on_demand_rotation_start_date"],
        json!(rfc3339(rotated))
    );
    // The rotation calls went to the primary's region.
    let rotations = fake.uris("ListKeyRotations");
    assert!(rotations[0].contains("us-east-1"), "{rotations:?}");
    assert!(fake.uris("GetKeyRotationStatus")[0].contains("us-east-1"));
}

/// Prevents: an AWS probe reporting a fact (which a control could pass on) when the principal
/// may call nothing: every call of every AWS probe is answered AccessDenied, in each service's
/// own error form, and each probe must either fail as `Denied` or leave every declared fact
/// unobserved (the engine then makes each check `error`).
#[tokio::test]
async fn every_aws_probe_with_every_call_denied_observes_no_fact() {
    let targets = [
        ("aws.s3", "audit-logs-bucket"),
        ("aws.kms", KEY_ID),
        ("aws.backup", "prod-vault"),
        ("aws.rds", "orders-db"),
        ("aws.dynamodb", "orders"),
        ("aws.cloudtrail", "org-trail"),
        ("aws.logs", "/app/web"),
        ("aws.iam", "account"),
        ("aws.guardduty", REGION),
        (
            "aws.wafv2",
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188",
        ),
        ("aws.elbv2", "web"),
        ("aws.cloudfront", "E2QWRUHAPOMQZL"),
        ("aws.rds", "snapshot:nightly"),
        ("aws.rds", "cluster-snapshot:nightly"),
        ("aws.ec2", "ebs-default:eu-west-1"),
        ("aws.ec2", "vol-0123abcd"),
        ("aws.ec2", "snap-0123abcd"),
        ("aws.efs", "fs-0123abcd"),
        (
            "aws.acm",
            "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-aaaa-bbbb-cccc-dddddddddddd",
        ),
        ("aws.secretsmanager", "prod/db"),
    ];
    let kinds: Vec<&str> = vouch::probe::Registry::builtin()
        .all()
        .iter()
        .map(|p| p.kind())
        .filter(|k| k.starts_with("aws."))
        .collect();
    for k in &kinds {
        assert!(
            targets.iter().any(|(t, _)| t == k),
            "add a target for {k} to every_aws_probe_with_every_call_denied_observes_no_fact"
        );
    }
    let mut leaks = Vec::new();
    for (kind, target) in targets {
        let fake = Arc::new(FakeAws::default());
        let json_error = |action: &str| Reply {
            status: 400,
            body: json!({
                "__type": "AccessDeniedException",
                "message": format!("User: {AUDITOR} is not authorized to perform: {action}"),
            })
            .to_string(),
            bucket_region: None,
        };
        let query_error = |action: &str| Reply {
            status: 403,
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
                 {AUDITOR} is not authorized to perform: {action}</Message></Error>\
                 <RequestId>r</RequestId></ErrorResponse>"
            ),
            bucket_region: None,
        };
        let s3_error = |_: &str| Reply {
            status: 403,
            body: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".into(),
            bucket_region: Some(REGION),
        };
        // EC2's own form: `Response/Errors/Error`, code UnauthorizedOperation.
        let ec2_error = |action: &str| Reply {
            status: 403,
            body: format!(
                "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not \
                 authorized to perform this operation ({action}).</Message></Error></Errors>\
                 <RequestID>r</RequestID></Response>"
            ),
            bucket_region: None,
        };
        fake.by_request(Arc::new(move |action: &str, _body: &str| match kind {
            "aws.s3" => s3_error(action),
            "aws.ec2" => ec2_error(action),
            // ELB is a Query API; CloudFront's REST-XML errors have the same shape.
            "aws.iam" | "aws.rds" | "aws.elbv2" | "aws.cloudfront" => query_error(action),
            _ => json_error(action),
        }));
        let registry = vouch::probe::Registry::builtin_with_aws(fake.factory());
        let probe = registry.get(kind).unwrap();
        let res = tokio::time::timeout(
            Duration::from_secs(60),
            probe.observe(target, &Params::new(), &fake_ctx()),
        )
        .await
        .unwrap_or_else(|_| panic!("{kind}: hung with every call denied"));
        match res {
            Err(e) => assert_eq!(e.kind, ProbeErrorKind::Denied, "{kind}: {e}"),
            Ok(obs) => {
                for f in probe.facts() {
                    // S3 names a bucket's region even in HeadBucket's 403 (the
                    // x-amz-bucket-region header): observed, not guessed.
                    if (kind, f.path) == ("aws.s3", "region") {
                        continue;
                    }
                    if let Some(v) = obs.facts.get(f.path) {
                        leaks.push(format!(
                            "{kind}: {} = {v} although every call was denied",
                            f.path
                        ));
                    }
                }
                assert!(
                    !obs.unobserved.is_empty(),
                    "{kind}: nothing said unobserved"
                );
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// A bucket whose SSE-KMS key is named by id (no alias): only KMS can say it is AWS-managed.
/// And `BlockedEncryptionTypes` (SSE-C refused), which moto does not implement.
#[tokio::test]
async fn s3_sse_c_blocked_and_a_key_resolved_by_kms_on_a_fake_endpoint() {
    let key_arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID}");
    let encryption = |blocked: &str| {
        ok(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key_arn}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>
    <BucketKeyEnabled>true</BucketKeyEnabled>
    <BlockedEncryptionTypes><EncryptionType>{blocked}</EncryptionType></BlockedEncryptionTypes>
  </Rule>
</ServerSideEncryptionConfiguration>"#
        ))
    };
    for (blocked, manager, sse_c_blocked, customer) in [
        ("SSE-C", "AWS", true, false),
        ("NONE", "CUSTOMER", false, true),
    ] {
        let fake = bare_bucket(Arc::new(FakeAws::default()))
            .on("HeadBucket", vec![ok("")])
            .on("GetBucketEncryption", vec![encryption(blocked)])
            .on(
                "DescribeKey",
                vec![describe_key(
                    "SYMMETRIC_DEFAULT",
                    "ENCRYPT_DECRYPT",
                    manager,
                    days_ago(10),
                )],
            );
        let obs = observe(&S3Probe::new(fake.factory()), "alpha", &fake_ctx()).await;
        assert_eq!(
            fact(&obs, "encryption.sse_c_blocked"),
            &json!(sse_c_blocked),
            "{blocked}"
        );
        assert_eq!(
            fact(&obs, "encryption.customer_managed_key"),
            &json!(customer),
            "{manager}"
        );
        assert_eq!(fake.count("DescribeKey"), 1);
        // The key's region comes from its ARN.
        assert!(fake.uris("DescribeKey")[0].contains("eu-west-1"));
    }
    // A denied DescribeKey leaves only the customer-managed fact unobserved.
    let fake = bare_bucket(Arc::new(FakeAws::default()))
        .on("HeadBucket", vec![ok("")])
        .on("GetBucketEncryption", vec![encryption("SSE-C")])
        .on(
            "DescribeKey",
            vec![kms_error("AccessDeniedException", "not authorized")],
        );
    let obs = observe(&S3Probe::new(fake.factory()), "alpha", &fake_ctx()).await;
    assert!(
        obs.unobserved["encryption.customer_managed_key"].contains("kms:DescribeKey"),
        "{:?}",
        obs.unobserved
    );
    assert_eq!(fact(&obs, "encryption.sse_c_blocked"), &json!(true));
    assert_eq!(fact(&obs, "encryption.algorithm"), &json!("aws:kms"));
}
