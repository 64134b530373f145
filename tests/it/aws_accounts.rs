//! Many AWS accounts in one run (`[aws] accounts`, `[aws.organization]`), on moto's server:
//! its Organizations API lists the accounts an organisation created, its STS AssumeRole
//! returns credentials of the role's account, and each account's resources stay its own.
//! moto does not evaluate trust policies, so the one refused AssumeRole is answered by the
//! SDK's replay client (`StaticReplayClient`) while every other request goes to moto.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;
use vouch::diag::Diagnostics;
use vouch::engine::{self, EngineOptions};
use vouch::inventory::{AwsOrganization, Inventory};
use vouch::probe::aws::{Aws, AwsOverrides};
use vouch::probe::{ProbeContext, ProbeOptions, Registry};

use crate::support;

const REGION: &str = "eu-west-1";

fn moto_url() -> String {
    support::require(
        std::env::var("VOUCH_TEST_MOTO_URL").ok(),
        "moto's server (VOUCH_TEST_MOTO_URL)",
        "source scripts/setup.d/30-moto.sh",
    )
}

/// A 12-digit account id no other test (or earlier run on the same server) uses.
fn fresh_account_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = (nanos as u64 / 1000 + N.fetch_add(1, Ordering::Relaxed) as u64) % 900_000_000_000;
    format!("{}", 100_000_000_000 + n)
}

async fn config(url: &str, creds: SharedCredentialsProvider) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(creds)
        .load()
        .await
}

fn static_creds(c: &aws_sdk_sts::types::Credentials) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "moto-assumed",
    ))
}

/// Credentials of `account` (moto hands out the role's account's credentials).
async fn assume(
    url: &str,
    from: SharedCredentialsProvider,
    account: &str,
) -> SharedCredentialsProvider {
    let sts = aws_sdk_sts::Client::new(&config(url, from).await);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/Seed"))
        .role_session_name("seed")
        .send()
        .await
        .expect("assume role on moto");
    static_creds(out.credentials().expect("credentials"))
}

fn s3(cfg: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(cfg)
            .force_path_style(true)
            .build(),
    )
}

async fn bucket(s3: &aws_sdk_s3::Client, name: &str, versioned: bool) {
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    if versioned {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning");
    }
}

/// A fresh organisation on moto: its management account's credentials, and three member
/// accounts (id, name) seeded differently: `a` one versioned bucket, `b` one unversioned,
/// `c` one of each.
struct Org {
    management: String,
    creds: SharedCredentialsProvider,
    members: Vec<(String, String)>,
    buckets: Vec<(String, String, bool)>,
}

async fn organisation(url: &str) -> Org {
    let root =
        SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "tests"));
    let management = fresh_account_id();
    let creds = assume(url, root, &management).await;
    let org = aws_sdk_organizations::Client::new(&config(url, creds.clone()).await);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let tag = fresh_account_id();
    let mut members = Vec::new();
    for n in ["a", "b", "c"] {
        let out = org
            .create_account()
            .account_name(format!("member-{n}"))
            .email(format!("{n}-{tag}@example.com"))
            .send()
            .await
            .expect("create account");
        let id = out
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("account id")
            .to_string();
        members.push((id, format!("member-{n}")));
    }
    let mut buckets = Vec::new();
    for (i, (id, _)) in members.iter().enumerate() {
        let s3 = s3(&config(url, assume(url, creds.clone(), id).await).await);
        let seeded: &[bool] = match i {
            0 => &[true],
            1 => &[false],
            _ => &[true, false],
        };
        for (j, versioned) in seeded.iter().enumerate() {
            let name = format!("acct-{tag}-{i}-{j}");
            bucket(&s3, &name, *versioned).await;
            buckets.push((id.clone(), name, *versioned));
        }
    }
    Org {
        management,
        creds,
        members,
        buckets,
    }
}

const CONTROLS: &str = r#"
[[control]]
id = "T-VERSIONED"
title = "Buckets are versioned"
severity = "high"
frameworks = { soc2 = ["CC6.1"] }
probe = "aws.s3"
targets = ["*"]
expect = [{ fact = "versioning.status", op = "==", value = "Enabled" }]
"#;

/// With a KMS `*` too: a regional listing, which covers each account's own `regions`.
const CONTROLS_WITH_KEYS: &str = r#"
[[control]]
id = "T-KEYS"
title = "Keys rotate"
severity = "high"
probe = "aws.kms"
targets = ["*"]
allow_empty = true
expect = [{ fact = "rotation.enabled", op = "==", value = true }]
"#;

fn controls(registry: &Registry, text: &str) -> Vec<vouch::control::Control> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let mut diags = Diagnostics::new();
    let controls = vouch::control::load_controls(
        &[vouch::control::Source::Path(path)],
        registry,
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render_short());
    controls
}

fn inventory(url: &str, org: &Org) -> Inventory {
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.aws.endpoint_url = Some(url.into());
    inv.aws.organization = Some(AwsOrganization {
        role_name: "VouchAudit".into(),
        exclude_accounts: vec![org.management.clone()],
        ..AwsOrganization::default()
    });
    inv
}

async fn run(aws: Arc<Aws>, inv: Inventory) -> Value {
    run_with_controls(aws, inv, CONTROLS).await.0
}

async fn run_with_controls(
    aws: Arc<Aws>,
    inv: Inventory,
    text: &str,
) -> (Value, Vec<vouch::control::Control>) {
    let registry = Registry::builtin_with_aws(aws);
    let controls = controls(&registry, text);
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let report = engine::run(
        &controls,
        &registry,
        &ctx,
        &EngineOptions::default(),
        None,
        None,
    )
    .await;
    (serde_json::to_value(&report).unwrap(), controls)
}

fn rows(report: &Value) -> Vec<&Value> {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "T-VERSIONED")
        .unwrap()["results"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_member_accounts_are_each_examined_through_their_role_and_labelled() {
    let url = moto_url();
    let org = organisation(&url).await;
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(org.creds.clone()),
        ..AwsOverrides::default()
    });
    let (report, controls) = run_with_controls(aws, inventory(&url, &org), CONTROLS).await;

    // Every seeded bucket is one row, in its own account, with its own verdict.
    let rows = rows(&report);
    assert_eq!(rows.len(), org.buckets.len(), "{rows:#?}");
    for (account, name, versioned) in &org.buckets {
        let row = rows
            .iter()
            .find(|r| r["target"] == name.as_str())
            .unwrap_or_else(|| panic!("no row for {name}: {rows:#?}"));
        assert_eq!(row["account"]["id"], account.as_str(), "{row:#}");
        let member = org.members.iter().find(|(id, _)| id == account).unwrap();
        assert_eq!(row["account"]["name"], member.1.as_str());
        assert_eq!(
            row["verdict"],
            if *versioned { "pass" } else { "fail" },
            "{row:#}"
        );
        // The observation says which account it was made in.
        let obs = &report["observations"][row["observation"].as_str().unwrap()];
        assert_eq!(obs["account"]["id"], account.as_str());
    }

    // The summary groups by account.
    let accounts = report["summary"]["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "{accounts:#?}");
    let by_id = |id: &str| accounts.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(by_id(&org.members[0].0)["results"]["pass"], 1);
    assert_eq!(by_id(&org.members[1].0)["results"]["fail"], 1);
    assert_eq!(by_id(&org.members[2].0)["results"]["pass"], 1);
    assert_eq!(by_id(&org.members[2].0)["results"]["fail"], 1);

    // run.context records what was scanned, from where, and what was skipped and why.
    let ctx = &report["run"]["context"]["aws.accounts"];
    assert_eq!(ctx["from"], serde_json::json!(["organization"]));
    let scanned: Vec<&str> = ctx["scanned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = org.members.iter().map(|(id, _)| id.as_str()).collect();
    expected.sort();
    assert_eq!(scanned, expected);
    for a in ctx["scanned"].as_array().unwrap() {
        assert_eq!(a["source"], "organization");
        assert_eq!(
            a["role_arn"],
            format!("arn:aws:iam::{}:role/VouchAudit", a["id"].as_str().unwrap())
        );
        // Each account's own caller identity (the assumed role) and discovery.
        assert_eq!(a["context"]["aws.caller_identity"]["account"], a["id"]);
        assert!(
            a["context"]["aws.s3.discovery"]["buckets"]
                .as_u64()
                .is_some()
        );
    }
    let skipped = ctx["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert_eq!(skipped[0]["id"], org.management.as_str());
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("exclude_accounts")
    );
    // The management account's identity listed the organisation.
    assert_eq!(
        report["run"]["context"]["aws.caller_identity"]["account"],
        org.management.as_str()
    );

    // The published schema knows `account`, `summary.accounts` and `run.context.aws.accounts`.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("docs/report-schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // Every other format groups or labels by account.
    let report: vouch::report::Report = serde_json::from_value(report).unwrap();
    let soc2 = vouch::report::coverage::Framework::find("soc2").unwrap();
    let mut coverage = vec![vouch::report::coverage::compute(&soc2, &controls)];
    vouch::report::coverage::mark_evidenced(&mut coverage, &report.controls);
    let cc61 = coverage[0]
        .criteria
        .iter()
        .find(|c| c.id == "CC6.1")
        .unwrap();
    let mut all: Vec<String> = org.members.iter().map(|m| m.0.clone()).collect();
    all.sort();
    assert_eq!(cc61.evidenced_in_accounts.as_ref(), Some(&all));
    assert_eq!(coverage[0].summary.accounts.len(), 3);
    assert!(
        coverage[0]
            .summary
            .accounts
            .iter()
            .all(|a| a.evidenced == 1)
    );
    let style = vouch::report::Style {
        color: false,
        width: Some(250),
    };
    let table = vouch::report::table::render(&report, style);
    let csv = vouch::report::csv::render(&report).unwrap();
    let html = vouch::report::html::render(&report);
    let oscal = vouch::report::oscal::render(&report).unwrap();
    let (a, name) = &org.members[1];
    assert!(
        table.contains(&format!("account {a} ({name}): 1 results: 0 pass, 1 fail")),
        "{table}"
    );
    assert!(table.contains("┆ account "), "{table}");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",account_id,account_name"),
        "{csv}"
    );
    assert!(csv.contains(&format!(",{a},{name}")), "{csv}");
    assert!(html.contains(&format!("account {a} ({name})")));
    let unversioned = &org.buckets.iter().find(|b| b.0 == *a).unwrap().1;
    assert!(html.contains(&format!("{unversioned} @ {a}")));
    assert!(oscal.contains("\"aws-account\""), "{oscal}");

    // An evidence bundle replays to the same rows, account by account (one name in two
    // accounts never collapses in a replay either).
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("ev");
    vouch::evidence::write_bundle(&ev, &report, &[], None).unwrap();
    let recorded =
        vouch::evidence::replay::load(&ev, &vouch::evidence::Trust::digests_only()).unwrap();
    let registry = Registry::builtin_with_aws(Aws::new());
    let replayed = vouch::evidence::replay::replay(
        &controls,
        &registry,
        &Inventory::default(),
        &recorded,
        &ev,
        vouch::evidence::replay::ReplayAt::Original,
    );
    let rows_of = |r: &vouch::report::Report| -> Vec<(Option<String>, String, String)> {
        r.controls[0]
            .results
            .iter()
            .map(|x| {
                (
                    x.account.as_ref().map(|a| a.id.clone()),
                    x.target.clone(),
                    x.verdict.as_str().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(rows_of(&replayed), rows_of(&report));
    assert_eq!(replayed.summary.accounts, report.summary.accounts);
}

/// Every request goes to moto except the AssumeRole into `refused`, which the SDK's replay
/// client answers (AccessDenied, as STS does when the trust policy does not allow the caller).
#[derive(Debug, Clone)]
struct RefuseOne {
    refused: String,
    replay: StaticReplayClient,
    real: SharedHttpClient,
}

#[derive(Debug)]
struct RefuseOneConnector {
    refused: String,
    replay: SharedHttpConnector,
    real: SharedHttpConnector,
}

impl HttpClient for RefuseOne {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RefuseOneConnector {
            refused: self.refused.clone(),
            replay: self.replay.http_connector(settings, components),
            real: self.real.http_connector(settings, components),
        })
    }
}

impl HttpConnector for RefuseOneConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if body.contains("Action=AssumeRole") && body.contains(&self.refused) {
            self.replay.call(request)
        } else {
            self.real.call(request)
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_whose_role_cannot_be_assumed_is_error_alone_while_the_others_complete() {
    let url = moto_url();
    let org = organisation(&url).await;
    let refused = org.members[1].0.clone();
    let denied = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
    <Message>User: arn:aws:sts::{m}:assumed-role/Seed/seed is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{refused}:role/VouchAudit</Message>
  </Error><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
</ErrorResponse>"#,
        m = org.management
    );
    let replay = StaticReplayClient::new(vec![ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri(format!("{url}/"))
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(403)
            .header("content-type", "text/xml")
            .body(SdkBody::from(denied))
            .unwrap(),
    )]);
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(org.creds.clone()),
        http_client: Some(SharedHttpClient::new(RefuseOne {
            refused: refused.clone(),
            replay: replay.clone(),
            real: aws_smithy_http_client::Builder::new().build_http(),
        })),
        ..AwsOverrides::default()
    });
    let report = run(aws, inventory(&url, &org)).await;
    // The replay client answered exactly the one AssumeRole into the refused account.
    assert_eq!(replay.actual_requests().count(), 1);

    let rows = rows(&report);
    // The refused account: one `error` row for its `*`, naming the role and what to fix.
    let denied_rows: Vec<&&Value> = rows
        .iter()
        .filter(|r| r["account"]["id"] == refused.as_str())
        .collect();
    assert_eq!(denied_rows.len(), 1, "{rows:#?}");
    let row = denied_rows[0];
    assert_eq!(row["verdict"], "error");
    assert_eq!(row["target"], "*");
    let error = row["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "cannot assume role arn:aws:iam::{refused}:role/VouchAudit"
        )),
        "{error}"
    );
    assert!(
        error.contains(": AccessDenied: User: arn:aws:sts::"),
        "STS's own code and words: {error}"
    );
    assert!(
        error.contains("not authorized to perform: sts:AssumeRole"),
        "{error}"
    );
    assert!(
        row["hint"]
            .as_str()
            .unwrap()
            .contains("trust the principal running vouch"),
        "{row:#}"
    );
    // The other accounts complete with their own verdicts.
    for (account, name, versioned) in org.buckets.iter().filter(|b| b.0 != refused) {
        let row = rows
            .iter()
            .find(|r| r["target"] == name.as_str())
            .unwrap_or_else(|| panic!("no row for {name}: {rows:#?}"));
        assert_eq!(row["account"]["id"], account.as_str());
        assert_eq!(row["verdict"], if *versioned { "pass" } else { "fail" });
    }
    assert!(
        !rows.iter().any(|r| org
            .buckets
            .iter()
            .any(|b| b.0 == refused && r["target"] == b.1.as_str())),
        "nothing of the refused account was observed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listed_accounts_keep_the_account_id_pin_their_own_regions_and_their_secrets() {
    let url = moto_url();
    let org = organisation(&url).await;
    let (a, b) = (&org.members[0].0, &org.members[2].0);
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    inv.aws.endpoint_url = Some(url.clone());
    inv.aws.accounts = vec![
        vouch::inventory::AwsAccount {
            id: a.clone(),
            name: Some("prod".into()),
            role_arn: Some(format!("arn:aws:iam::{a}:role/VouchAudit")),
            regions: Some(vec!["us-west-2".into(), "ap-south-1".into()]),
            ..Default::default()
        },
        vouch::inventory::AwsAccount {
            id: b.clone(),
            role_arn: Some(format!("arn:aws:iam::{b}:role/VouchAudit")),
            external_id: Some("s3cr3t-ext".into()),
            ..Default::default()
        },
    ];
    // The pin: only `a` may be examined; `b`'s results are errors, `a`'s are judged.
    inv.aws.account_ids = vec![a.clone()];
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(org.creds.clone()),
        ..AwsOverrides::default()
    });
    let (report, _) = run_with_controls(aws, inv, &format!("{CONTROLS}{CONTROLS_WITH_KEYS}")).await;
    let rows = rows(&report);
    let of =
        |id: &str| -> Vec<&&Value> { rows.iter().filter(|r| r["account"]["id"] == id).collect() };
    assert_eq!(of(a).len(), 1);
    assert_eq!(of(a)[0]["verdict"], "pass");
    assert_eq!(of(a)[0]["account"]["name"], "prod");
    assert_eq!(of(b).len(), 1, "{rows:#?}");
    assert_eq!(of(b)[0]["verdict"], "error");
    assert!(
        of(b)[0]["error"]
            .as_str()
            .unwrap()
            .contains("inventory expects"),
        "{:#}",
        of(b)[0]
    );
    let ctx = &report["run"]["context"]["aws.accounts"];
    assert_eq!(ctx["from"], serde_json::json!(["list"]));
    // The account's own `regions` is what its regional `*` covered.
    let scanned = ctx["scanned"].as_array().unwrap();
    let context_of = |id: &str| &scanned.iter().find(|s| s["id"] == id).unwrap()["context"];
    assert_eq!(
        context_of(a)["aws.regions"]["regions"],
        serde_json::json!(["us-west-2", "ap-south-1"]),
        "{ctx:#}"
    );
    assert_eq!(context_of(a)["aws.regions"]["from"], "[aws] regions");
    // The external id is a shared secret between the two accounts: never in the report.
    assert!(!report.to_string().contains("s3cr3t-ext"));
}

/// Loads `text` as an inventory; the short diagnostics (`path:line:col: error[code]: …`) with
/// the directory left out.
fn diagnose_inventory(text: &str) -> (Option<Inventory>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vouch.toml");
    std::fs::write(&path, text).unwrap();
    let mut diags = Diagnostics::new();
    let inv = Inventory::load(&path, &mut diags);
    let short = diags
        .render_short()
        .replace(&format!("{}/", dir.path().display()), "");
    (inv, short)
}

#[test]
fn accounts_and_the_organization_are_read_with_what_each_key_means() {
    let (inv, diags) = diagnose_inventory(
        r#"[aws]
region = "eu-west-1"
accounts = [
  { id = "111122223333", name = "prod", role_arn = "arn:aws:iam::111122223333:role/VouchAudit", external_id = "x-1", regions = ["eu-west-1", "us-east-1"] },
  { id = "444455556666" },
]
[aws.organization]
role_name = "VouchAudit"
include_ous = ["ou-ab12-cdef3456", "r-ab12"]
exclude_accounts = ["777788889999"]
"#,
    );
    let inv = inv.unwrap_or_else(|| panic!("{diags}"));
    let a = &inv.aws.accounts;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].id, "111122223333");
    assert_eq!(a[0].name.as_deref(), Some("prod"));
    assert_eq!(a[0].external_id.as_deref(), Some("x-1"));
    assert_eq!(
        a[0].regions.as_deref(),
        Some(&["eu-west-1".to_string(), "us-east-1".to_string()][..])
    );
    assert_eq!(a[1].role_arn, None);
    let org = inv.aws.organization.as_ref().unwrap();
    assert_eq!(org.role_name, "VouchAudit");
    assert_eq!(org.include_ous, ["ou-ab12-cdef3456", "r-ab12"]);
    assert_eq!(org.exclude_accounts, ["777788889999"]);
    // The external id never reaches what the inventory serialises into reports and bundles.
    assert!(!serde_json::to_string(&inv).unwrap().contains("x-1"));
}

#[test]
fn bad_accounts_and_organization_settings_are_each_reported_where_they_are() {
    let (inv, diags) = diagnose_inventory(
        r#"[aws]
accounts = [
  { id = "1111", role_arn = "arn:aws:iam::111122223333:role/A" },
  { id = "111122223333", role_arn = "arn:aws:iam::999988887777:role/A" },
  { id = "111122223333", role = "x" },
  { role_arn = "arn:aws:s3:::bucket", regions = ["mars-1"] },
  "222233334444",
]
[aws.organization]
include_ous = ["ou-bad", "ou-ab12-cdef3456"]
exclude_accounts = ["12"]
"#,
    );
    assert!(inv.is_none());
    let lines: Vec<&str> = diags.lines().collect();
    let expect = [
        "vouch.toml:3:10: error[invalid-account-id]",
        "vouch.toml:4:37: error[role-account-mismatch]: `role_arn` is a role in account 999988887777, not in account 111122223333",
        "vouch.toml:5:10: error[duplicate-account]",
        "vouch.toml:5:26: error[unknown-key]: unknown key `role`: valid keys: id, name, role_arn",
        "vouch.toml:6:3: error[missing-key]: missing required key `id`",
        "vouch.toml:6:16: error[invalid-role-arn]",
        "vouch.toml:6:50: error[invalid-region]",
        "vouch.toml:7:3: error[wrong-type]: each entry of `accounts` must be a table",
        "vouch.toml:9:1: error[missing-key]: missing required key `role_name`",
        "vouch.toml:10:16: error[invalid-ou]: `ou-bad` is not an organisational unit or root id",
        "vouch.toml:11:21: error[invalid-account-id]",
    ];
    assert_eq!(lines.len(), expect.len(), "{diags}");
    for (line, want) in lines.iter().zip(expect) {
        assert!(line.starts_with(want), "{line}\n  expected {want}\n{diags}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn include_ous_narrows_the_organisation_to_accounts_under_them_at_any_depth() {
    let url = moto_url();
    let org = organisation(&url).await;
    let client = aws_sdk_organizations::Client::new(&config(&url, org.creds.clone()).await);
    let root = client.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let ou = |parent: String, name: &'static str| {
        let client = client.clone();
        async move {
            client
                .create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap()
                .organizational_unit()
                .unwrap()
                .id()
                .unwrap()
                .to_string()
        }
    };
    let prod = ou(root.clone(), "prod").await;
    let inner = ou(prod.clone(), "inner").await;
    // member-a directly under `prod`, member-c two levels down; member-b stays at the root.
    for (account, to) in [(&org.members[0].0, &prod), (&org.members[2].0, &inner)] {
        client
            .move_account()
            .account_id(account)
            .source_parent_id(&root)
            .destination_parent_id(to)
            .send()
            .await
            .unwrap();
    }
    let mut inv = inventory(&url, &org);
    inv.aws.organization.as_mut().unwrap().include_ous = vec![prod.clone()];
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(org.creds.clone()),
        ..AwsOverrides::default()
    });
    let report = run(aws, inv).await;
    let ctx = &report["run"]["context"]["aws.accounts"];
    let ids = |list: &str| -> Vec<String> {
        ctx[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut want = vec![org.members[0].0.clone(), org.members[2].0.clone()];
    want.sort();
    assert_eq!(ids("scanned"), want, "{ctx:#}");
    let skipped = ctx["skipped"].as_array().unwrap();
    let b = skipped
        .iter()
        .find(|s| s["id"] == org.members[1].0.as_str())
        .unwrap_or_else(|| panic!("member-b is not skipped: {ctx:#}"));
    assert_eq!(b["reason"], format!("not under include_ous ({prod})"));
    // Nothing of member-b was observed.
    assert!(
        rows(&report)
            .iter()
            .all(|r| r["account"]["id"] != org.members[1].0.as_str())
    );
    // ListAccountsForParent and ListChildren were asked, and are in the management policy.
    support::assert_iam_policy_allows(&report["run"]["context"]);
    let calls = ctx["organization"]["api_calls"].to_string();
    assert!(
        calls.contains("ListChildren") && calls.contains("ListAccountsForParent"),
        "{calls}"
    );
}

/// `vouch check --shard K/N` of a three-account organisation: `*` targets are expanded per
/// account before slicing, so each account's rows are all in one shard (its slice is the one
/// its account's key hashes to), and merging the shards gives the single run's verdicts.
/// Wrong answers prevented: every account's `*` rows landing in one slice (the shard key once
/// ignored the account a `*` was expanded in), an account split over two shards, a row lost or
/// judged differently by the merge.
#[tokio::test(flavor = "multi_thread")]
async fn shards_keep_each_account_whole_in_the_slice_of_its_account_and_merge_to_one_run() {
    use aws_credential_types::provider::ProvideCredentials;
    let url = moto_url();
    let org = organisation(&url).await;
    let creds = org.creds.provide_credentials().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("controls.toml"), CONTROLS).unwrap();
    std::fs::write(
        dir.path().join("vouch.toml"),
        format!(
            "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"{url}\"\n\n[aws.organization]\n\
             role_name = \"VouchAudit\"\nexclude_accounts = [\"{}\"]\n",
            org.management
        ),
    )
    .unwrap();
    let vouch = |args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("vouch"));
        cmd.current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("JOB_COMPLETION_INDEX")
            .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
            .env(
                "AWS_SESSION_TOKEN",
                creds.session_token().unwrap_or_default(),
            )
            .env("AWS_REGION", REGION)
            .args(args);
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap();
        assert!(
            [0, 1, 3].contains(&code),
            "vouch {args:?} exited {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        (code, report)
    };
    let check = [
        "check",
        "--controls",
        "controls.toml",
        "--inventory",
        "vouch.toml",
    ];
    let (single_code, single) = vouch(&[&check[..], &["--format", "json"]].concat());
    // (account, bucket, verdict) of every row.
    let triples = |report: &Value| -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = rows(report)
            .iter()
            .map(|r| {
                (
                    r["account"]["id"].as_str().unwrap_or("").to_string(),
                    r["target"].as_str().unwrap().to_string(),
                    r["verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let all = triples(&single);
    assert_eq!(all.len(), org.buckets.len(), "{all:#?}");
    for n in [2u32, 3] {
        let mut bundles = Vec::new();
        let mut seen: Vec<(String, String, String)> = Vec::new();
        for k in 1..=n {
            let bundle = format!("shard-{n}-{k}");
            let (_, report) = vouch(
                &[
                    &check[..],
                    &[
                        "--format",
                        "json",
                        "--shard",
                        &format!("{k}/{n}"),
                        "--evidence-dir",
                        &bundle,
                    ],
                ]
                .concat(),
            );
            bundles.push(bundle);
            let mine = triples(&report);
            for (id, _) in &org.members {
                let expected = vouch::slice::slice_in("aws.s3", "*", Some(id), n) == k;
                let owned = all.iter().filter(|t| &t.0 == id).count();
                let here = mine.iter().filter(|t| &t.0 == id).count();
                // Whole here, or not here at all; here exactly when its account hashes here.
                assert_eq!(
                    here,
                    if expected { owned } else { 0 },
                    "account {id} in shard {k}/{n}: {mine:#?}"
                );
            }
            seen.extend(mine);
        }
        seen.sort();
        assert_eq!(seen, all, "the {n} shards together hold every row once");
        let merge: Vec<&str> = ["merge", "--allow-unsigned", "--format", "json"]
            .into_iter()
            .chain(bundles.iter().map(String::as_str))
            .collect();
        let (code, merged) = vouch(&merge);
        assert_eq!(triples(&merged), all, "merged {n} shards");
        assert_eq!(merged["summary"], single["summary"], "merged {n} shards");
        assert_eq!(code, single_code, "merged {n} shards");
    }
}
