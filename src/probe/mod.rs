//! Probes: the [`Probe`] trait, the one [`Registry`] of built-in probes, and what a probe returns.
//!
//! A probe *observes*; it never judges. It turns a target into an [`Observation`]: `facts` (a flat
//! JSON object keyed by the fact paths the probe declares) and `evidence` (the raw artefacts the
//! facts came from, secrets redacted). When it cannot look at all (refused, timed out, denied) it
//! returns a [`ProbeError`] with a hint a human can act on; the engine turns that into an `error`
//! verdict and carries on. Comparing facts with expectations is `expect`'s job, not the probe's.
//!
//! Adding a probe is one module here plus one line in [`Registry::builtin`]. External probes
//! (`plugin:NAME`, [`plugin`]) join the same registry when the inventory is loaded.

pub mod attestation;
pub mod aws;
pub mod github;
pub mod http;
pub mod plugin;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::expect::FactType;
use crate::inventory::Inventory;

/// One fact a probe declares: its path, type and a one-line meaning (`vouch probe --facts`).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FactSpec {
    pub path: &'static str,
    #[serde(rename = "type")]
    pub ty: FactType,
    pub doc: &'static str,
}

/// Shorthand for declaring facts in a `const` table.
pub const fn fact(path: &'static str, ty: FactType, doc: &'static str) -> FactSpec {
    FactSpec { path, ty, doc }
}

/// A control's `params` table, handed to the probe (part of the observation's identity).
pub type Params = serde_json::Map<String, serde_json::Value>;

/// What a probe saw of one target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Observation {
    pub probe: String,
    pub target: String,
    /// The AWS account observed, in a multi-account run (part of the observation's identity:
    /// one bucket name in two accounts is two observations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: Params,
    pub observed_at: Timestamp,
    pub duration_ms: u64,
    /// Fact path → value. A `null` value is an observed absence ("no restore job");
    /// a path missing here was not observed, and any check on it is an `error`.
    pub facts: BTreeMap<String, serde_json::Value>,
    /// Fact path → why it could not be observed (shown in the failing check).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unobserved: BTreeMap<String, String>,
    /// Raw artefacts behind the facts: API responses, handshake transcripts, headers.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// Larger artefacts kept verbatim (certificate PEMs, response heads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// The AWS account of an observation or result: its id and, when known, its name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AccountRef {
    /// `111122223333 (prod)`, or the id alone.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({n})", self.id),
            None => self.id.clone(),
        }
    }
}

impl From<&aws::AccountScope> for AccountRef {
    fn from(a: &aws::AccountScope) -> AccountRef {
        AccountRef {
            id: a.id.clone(),
            name: a.name.clone(),
        }
    }
}

/// A verbatim artefact an auditor may want as a file of its own.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub content: String,
}

/// `run.context` key: the AWS endpoint override in effect (`{url, source, services}`), recorded
/// when an AWS probe ran against anything but AWS's own endpoints.
pub const CONTEXT_AWS_ENDPOINT: &str = "aws.endpoint_override";
/// `run.context` key: the inventory's `[resolve]` entries (`{"name:port": "address:port"}`).
pub const CONTEXT_RESOLVE: &str = "resolve";
/// `run.context` key: the extra TLS trust roots (`{path, sha256}`), `[tls] ca_file`.
pub const CONTEXT_CA_FILE: &str = "tls.ca_file";

impl Observation {
    /// A new, empty observation stamped with the current time.
    pub fn new(probe: &str, target: &str) -> Observation {
        Observation {
            probe: probe.to_string(),
            target: target.to_string(),
            account: None,
            params: Params::new(),
            observed_at: Timestamp::now(),
            duration_ms: 0,
            facts: BTreeMap::new(),
            unobserved: BTreeMap::new(),
            evidence: serde_json::Map::new(),
            attachments: Vec::new(),
        }
    }

    /// Records a fact.
    pub fn fact(&mut self, path: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        self.facts.insert(path.to_string(), value.into());
        self
    }

    /// Records that a fact could not be observed, and why.
    pub fn unobserved(&mut self, path: &str, reason: impl Into<String>) -> &mut Self {
        self.facts.remove(path);
        self.unobserved.insert(path.to_string(), reason.into());
        self
    }

    /// Records a piece of evidence.
    pub fn evidence(&mut self, key: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        self.evidence.insert(key.to_string(), value.into());
        self
    }

    /// Keeps a verbatim artefact.
    pub fn attach(
        &mut self,
        name: &str,
        media_type: &str,
        content: impl Into<String>,
    ) -> &mut Self {
        self.attachments.push(Attachment {
            name: name.to_string(),
            media_type: media_type.to_string(),
            content: content.into(),
        });
        self
    }
}

/// Why a probe could not observe a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeErrorKind {
    /// The target is not of the syntax the probe takes.
    InvalidTarget,
    /// Name resolution failed, connection refused or reset.
    Unreachable,
    /// No answer within the timeout.
    Timeout,
    /// Credentials missing or the principal lacks permission.
    Denied,
    /// The resource does not exist.
    NotFound,
    /// The peer answered, but not in a way the probe can read.
    Protocol,
    /// The run's configuration is missing something the probe needs.
    Config,
    Other,
}

/// A probe could not look. Always carries a hint a human can act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeError {
    pub kind: ProbeErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl ProbeError {
    pub fn new(kind: ProbeErrorKind, message: impl Into<String>) -> ProbeError {
        ProbeError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> ProbeError {
        self.hint = Some(hint.into());
        self
    }

    pub fn timeout(after: Duration) -> ProbeError {
        ProbeError::new(
            ProbeErrorKind::Timeout,
            format!("no answer within {}", humantime(after)),
        )
        .with_hint("the target may be down or filtered; raise --timeout if it is only slow")
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProbeError {}

pub(crate) fn humantime(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Settings of this run that probes read (the *how*; controls say *what*).
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Per-observation timeout; a probe's own connect/read timeouts must fit inside it.
    pub timeout: Duration,
    /// Concurrent connections a probe may open to one address (TLS version enumeration).
    pub connections_per_address: usize,
    /// Concurrent calls per cloud service.
    pub cloud_concurrency: usize,
    /// The facts this run's controls use, per probe kind (the engine fills it in). A probe may
    /// skip costly work for facts nobody reads (the TLS probe's cipher-suite enumeration).
    /// `None`: not known (a spot check), and the probe does its default work.
    pub facts_used: Option<BTreeMap<String, std::collections::BTreeSet<String>>>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            timeout: Duration::from_secs(10),
            connections_per_address: 4,
            cloud_concurrency: 8,
            facts_used: None,
        }
    }
}

/// What a probe is given besides its target: the inventory, the run's options, and a place to
/// record run-level facts (the cloud account examined) once.
#[derive(Clone, Debug)]
pub struct ProbeContext {
    pub inventory: Arc<Inventory>,
    pub options: Arc<ProbeOptions>,
    /// The AWS account this observation is for, in a multi-account run (`None`: the account
    /// of the run's own credentials).
    pub account: Option<Arc<aws::AccountScope>>,
    run_info: Arc<Mutex<BTreeMap<String, serde_json::Value>>>,
    /// Run-level facts recorded for one account (account id → key → value), shown under that
    /// account in `run.context["aws.accounts"].scanned[].context`.
    account_info: Arc<Mutex<BTreeMap<String, BTreeMap<String, serde_json::Value>>>>,
}

impl ProbeContext {
    pub fn new(inventory: Arc<Inventory>, options: ProbeOptions) -> ProbeContext {
        let ctx = ProbeContext {
            inventory,
            options: Arc::new(options),
            account: None,
            run_info: Arc::default(),
            account_info: Arc::default(),
        };
        // What the run was pointed at besides the names: recorded so every report says so.
        let inv = &ctx.inventory;
        if !inv.resolve.is_empty() {
            let map: serde_json::Map<String, serde_json::Value> = inv
                .resolve
                .iter()
                .map(|(k, v)| {
                    // A name mapped to several addresses lists them all.
                    let all: Vec<String> = std::iter::once(v)
                        .chain(inv.resolve_more.get(k).into_iter().flatten())
                        .map(|a| a.to_string())
                        .collect();
                    (k.clone(), all.join(", ").into())
                })
                .collect();
            ctx.record_run_info(CONTEXT_RESOLVE, map.into());
        }
        if let Some(ca) = &inv.tls.ca_file {
            use sha2::{Digest, Sha256};
            let sha256 = std::fs::read(ca)
                .ok()
                .map(|b| hex::encode(Sha256::digest(b)));
            ctx.record_run_info(
                CONTEXT_CA_FILE,
                serde_json::json!({"path": ca.display().to_string(), "sha256": sha256}),
            );
        }
        ctx
    }

    /// The same context (and run-level record) with `facts_used` set.
    pub fn with_facts_used(
        &self,
        facts_used: BTreeMap<String, std::collections::BTreeSet<String>>,
    ) -> ProbeContext {
        let mut options = (*self.options).clone();
        options.facts_used = Some(facts_used);
        ProbeContext {
            options: Arc::new(options),
            ..self.clone()
        }
    }

    /// The same context (and run-level record) for one account of a multi-account run.
    pub fn for_account(&self, account: Arc<aws::AccountScope>) -> ProbeContext {
        ProbeContext {
            account: Some(account),
            ..self.clone()
        }
    }

    /// The same context for the run's own credentials.
    pub fn without_account(&self) -> ProbeContext {
        ProbeContext {
            account: None,
            ..self.clone()
        }
    }

    /// Whether the run uses a fact of probe `kind` whose path starts with `prefix`; `false` when
    /// the run did not say (a spot check does only the default work).
    pub fn uses_fact(&self, kind: &str, prefix: &str) -> bool {
        self.options.facts_used.as_ref().is_some_and(|m| {
            m.get(kind)
                .is_some_and(|facts| facts.iter().any(|f| f.starts_with(prefix)))
        })
    }

    /// Records a run-level fact (e.g. `aws.caller_identity`), shown in the report's `run` section.
    /// With an account set ([`ProbeContext::for_account`]) the fact is that account's.
    pub fn record_run_info(&self, key: &str, value: serde_json::Value) {
        if let Some(account) = &self.account {
            self.account_info
                .lock()
                .expect("account info lock")
                .entry(account.id.clone())
                .or_default()
                .insert(key.to_string(), value);
            return;
        }
        self.run_info
            .lock()
            .expect("run info lock")
            .insert(key.to_string(), value);
    }

    /// Every run-level fact; each account's own under its entry of `aws.accounts.scanned`.
    pub fn run_info(&self) -> BTreeMap<String, serde_json::Value> {
        let mut info = self.run_info.lock().expect("run info lock").clone();
        let per_account = self.account_info.lock().expect("account info lock");
        if let Some(scanned) = info
            .get_mut(aws::CONTEXT_ACCOUNTS)
            .and_then(|a| a.get_mut("scanned"))
            .and_then(|s| s.as_array_mut())
        {
            for entry in scanned {
                let id = entry.get("id").and_then(|i| i.as_str()).unwrap_or_default();
                if let (Some(facts), Some(obj)) = (per_account.get(id), entry.as_object_mut()) {
                    let facts: serde_json::Map<String, serde_json::Value> =
                        facts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    obj.insert("context".into(), facts.into());
                }
            }
        }
        info
    }
}

/// A probe: one kind of thing vouch can look at.
#[async_trait]
pub trait Probe: Send + Sync {
    /// The name controls use in `probe = "…"`.
    fn kind(&self) -> &'static str;
    /// One line: what it looks at.
    fn description(&self) -> &'static str;
    /// The target syntax, for help and error messages (`host[:port]`).
    fn target_syntax(&self) -> &'static str;
    /// Every fact the probe may report. A control may only name these.
    fn facts(&self) -> &'static [FactSpec];
    /// Parameters a control may pass in `params` (name, type, meaning).
    fn params(&self) -> &'static [FactSpec] {
        &[]
    }
    /// Checks a target's syntax at load time; the message says what would be valid.
    fn check_target(&self, _target: &str) -> Result<(), String> {
        Ok(())
    }
    /// The key the engine's per-host limit groups targets by.
    fn host_key(&self, target: &str) -> String {
        target.to_string()
    }
    /// Whether `target` is a pattern (`*`) to expand with [`Probe::discover`] before planning.
    fn is_pattern(&self, _target: &str) -> bool {
        false
    }
    /// Expands a pattern into every matching resource (the whole population, every page).
    async fn discover(
        &self,
        pattern: &str,
        _ctx: &ProbeContext,
    ) -> Result<Vec<String>, ProbeError> {
        Ok(vec![pattern.to_string()])
    }
    /// Looks at one target. `Ok` when something was seen (good or bad), `Err` when it could not
    /// look. The engine enforces the overall timeout; the probe should still bound its own I/O.
    async fn observe(
        &self,
        target: &str,
        params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError>;
    /// A readable spot-check rendering (`vouch probe KIND TARGET`); `None` prints the fact table.
    fn render(&self, _observation: &Observation) -> Option<String> {
        None
    }
    /// One readable table of many observations (`vouch probe KIND '*'`); `None` renders each
    /// with [`Probe::render`].
    fn render_all(&self, _observations: &[Observation]) -> Option<String> {
        None
    }

    /// Looks up a declared fact.
    fn fact_spec(&self, path: &str) -> Option<&'static FactSpec> {
        self.facts().iter().find(|f| f.path == path)
    }
}

/// The built-in probes, by kind.
#[derive(Clone)]
pub struct Registry {
    probes: Vec<Arc<dyn Probe>>,
    /// The AWS probes' shared factory, which also resolves a multi-account run's accounts.
    aws: Option<Arc<aws::Aws>>,
}

impl Registry {
    /// Every probe vouch ships. One line per probe.
    pub fn builtin() -> Registry {
        // The AWS probes share one client factory: one credential load, one STS call, one
        // set of per-service limits per run.
        Registry::builtin_with_aws(aws::Aws::new())
    }

    /// Every probe vouch ships, the AWS ones sharing the given client factory (tests give one
    /// with static credentials or the SDK's replay client).
    pub fn builtin_with_aws(aws: Arc<aws::Aws>) -> Registry {
        Registry {
            aws: Some(aws.clone()),
            probes: vec![
                Arc::new(attestation::AttestationProbe::default()),
                Arc::new(http::HttpProbe::default()),
                Arc::new(tls::TlsProbe),
                Arc::new(aws::s3::S3Probe::new(aws.clone())),
                Arc::new(aws::kms::KmsProbe::new(aws.clone())),
                Arc::new(aws::cloudtrail::CloudTrailProbe::new(aws.clone())),
                Arc::new(aws::logs::LogsProbe::new(aws.clone())),
                Arc::new(aws::iam::IamProbe::new(aws.clone())),
                Arc::new(aws::guardduty::GuardDutyProbe::new(aws.clone())),
                Arc::new(aws::wafv2::Wafv2Probe::new(aws.clone())),
                Arc::new(aws::backup::BackupProbe::new(aws.clone())),
                Arc::new(aws::rds::RdsProbe::new(aws.clone())),
                Arc::new(aws::dynamodb::DynamoDbProbe::new(aws.clone())),
                Arc::new(aws::elbv2::Elbv2Probe::new(aws.clone())),
                Arc::new(aws::cloudfront::CloudFrontProbe::new(aws.clone())),
                Arc::new(aws::ec2::Ec2Probe::new(aws.clone())),
                Arc::new(aws::efs::EfsProbe::new(aws.clone())),
                Arc::new(aws::acm::AcmProbe::new(aws.clone())),
                Arc::new(aws::secretsmanager::SecretsManagerProbe::new(aws.clone())),
                Arc::new(github::GithubProbe::default()),
            ],
        }
    }

    /// A registry of the given probes (tests, embedding).
    pub fn with(probes: Vec<Arc<dyn Probe>>) -> Registry {
        Registry { probes, aws: None }
    }

    /// The accounts of a multi-account run (see [`aws::Aws::accounts`]); `None` for a run of
    /// the one account of the credentials, or a registry without the AWS probes.
    pub async fn aws_accounts(
        &self,
        ctx: &ProbeContext,
    ) -> Option<Result<Arc<aws::AccountSet>, ProbeError>> {
        self.aws.as_ref()?.accounts(ctx).await
    }

    /// Adds a probe (an external `plugin:NAME`, described at load time); it replaces one of the
    /// same kind.
    pub fn add(&mut self, probe: Arc<dyn Probe>) {
        self.probes.retain(|p| p.kind() != probe.kind());
        self.probes.push(probe);
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn Probe>> {
        self.probes.iter().find(|p| p.kind() == kind).cloned()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.probes.iter().map(|p| p.kind()).collect()
    }

    pub fn all(&self) -> &[Arc<dyn Probe>] {
        &self.probes
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.kinds()).finish()
    }
}

/// Replaces the value of headers and fields that carry secrets, for evidence.
pub fn redact_header(name: &str, value: &str) -> String {
    const SECRET: [&str; 8] = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
        "x-api-key",
        "x-auth-token",
        "www-authenticate",
    ];
    if SECRET.contains(&name.to_ascii_lowercase().as_str()) {
        "[redacted]".into()
    } else {
        value.to_string()
    }
}
