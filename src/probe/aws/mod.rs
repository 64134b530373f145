//! The AWS probes and the one factory they share: credentials, region, endpoint, retries,
//! politeness, error mapping and evidence, so that each probe module holds only what its
//! service is about (which calls to make, which facts they give).
//!
//! # The pattern every `aws.*` probe follows
//!
//! ```text
//! Registry::builtin ── Arc<Aws> ──┬─> S3Probe::new(aws.clone())
//!                                  ├─> KmsProbe::new(aws.clone())
//!                                  └─> …one module per service, same Arc
//!
//! observe(target, params, ctx)
//!   let session = self.aws.session(ctx).await?;       // built once per settings, shared
//!   let kms: aws_sdk_kms::Client = session.client(None);   // home region (or Some("us-west-2"))
//!   let calls = ApiCalls::default();                 // the evidence of this observation
//!   let out = session.call(&calls, kms::SERVICE, "DescribeKey", &region, |capture| {
//!       kms.describe_key().key_id(id).customize().interceptor(capture).send()
//!   }).await?;                                       // permit, evidence, errors: all handled
//!   calls.into_evidence(&mut observation);
//! ```
//!
//! - [`Aws`] is the shared handle the registry gives every AWS probe. [`Aws::session`] builds a
//!   [`Session`] once per distinct setting (`[aws] region/profile/endpoint_url`, concurrency,
//!   timeout) and hands the same one to every later observation of the run.
//! - A [`Session`] holds the loaded `SdkConfig` (standard credential chain: environment, profiles
//!   including SSO and assume-role, container and instance credentials, with one credential cache
//!   shared by every client), the home region, one client per (service, region) made on first
//!   use ([`ServiceClient`]; add a service with [`service_client!`](crate::service_client)), one semaphore per service
//!   (`ctx.options.cloud_concurrency` calls in flight), and the caller identity (STS
//!   GetCallerIdentity, made once, recorded into every run's `aws.caller_identity`).
//! - [`Session::call`] is the only way probes talk to AWS: it waits for the service's permit,
//!   attaches an interceptor that keeps the raw response (request id, status, body as JSON with
//!   secrets redacted), records it in [`ApiCalls`], and maps an SDK error to a [`ProbeError`]
//!   with [`map_sdk_error`]. [`Session::call_optional`] additionally turns the error codes a
//!   service uses for "this configuration does not exist" into `Ok(None)`: a missing
//!   configuration is an observed absence, never an error.
//! - A secondary call that fails (a permission missing for one API) makes only the facts it
//!   feeds unobserved (with the mapped error as the reason) so a check on them is an `error`
//!   verdict, while facts from calls that worked stay usable. A failure of the call that says
//!   whether the resource exists at all is the observation's `Err`.
//!
//! # Adding a service (`aws.rds`, `aws.backup`, …)
//!
//! 1. `cargo add aws-sdk-rds`; in a new `src/probe/aws/rds.rs`: `service_client!(aws_sdk_rds,
//!    "rds");` and a probe struct holding the `Arc<Aws>`.
//! 2. `discover("*")`: every page of the list call through `common::walk_pages` (it stops when
//!    the token is absent, empty or repeats, and errs after `MAX_PAGES`), in each region of
//!    [`Session::scan_regions`], naming resources outside the home region by ARN
//!    ([`regional_target`]); record where the population came from with
//!    `ctx.record_run_info("aws.rds.discovery", json!({…, "api_calls": calls.into_summaries()}))`.
//! 3. `observe`: the call that says whether the resource exists with [`Session::call`] (its
//!    error is the observation's); the others with [`Session::call_optional`] and the service's
//!    "not configured" codes, concurrently (`tokio::join!`), each failure marking only its facts
//!    with [`unobserved`]. Name the region a resource lives in and ask there
//!    (`session.client(Some(region))`).
//! 4. One line in `Registry::builtin`: `Arc::new(aws::rds::RdsProbe::new(aws.clone()))`.
//! 5. Tests in `tests/it/aws.rs` style: moto for what it implements, the fake endpoint behind
//!    the SDK's test HTTP client for the rest, each gap listed in `docs/testing.md`.
//!
//! Retries use the SDK's adaptive mode (client-side rate limiting on throttling), so a scan of a
//! production account backs off instead of competing with the account's own workloads.
//! With an endpoint override (`[aws] endpoint_url` or `AWS_ENDPOINT_URL`, e.g. an emulator or a
//! VPC endpoint), S3 is addressed path-style because virtual-host names do not resolve there.

pub mod accounts;
pub mod acm;
pub mod backup;
pub mod cloudfront;
pub mod cloudtrail;
mod common;
pub mod dynamodb;
pub mod ec2;
pub mod efs;
pub mod elbv2;
pub mod error;
mod evidence;
pub mod guardduty;
pub mod iam;
pub mod kms;
pub mod logs;
pub mod rds;
pub mod s3;
pub mod secretsmanager;
pub mod wafv2;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use serde::Serialize;
use tokio::sync::{OnceCell, Semaphore};

pub use accounts::{AccountScope, AccountSet, CONTEXT_ACCOUNTS, Route, is_aws_kind, route};
pub use error::{ErrorClass, classify, map_sdk_error};
pub use evidence::{ApiCalls, Capture, redact_json};

use super::{Observation, ProbeContext, ProbeError, ProbeErrorKind};
use serde_json::Value;

/// Key of the run-level fact naming the account examined.
pub const CALLER_IDENTITY: &str = "aws.caller_identity";

/// Attempts per call (first try + retries) before a throttled or failing call is an error.
const MAX_ATTEMPTS: u32 = 3;

/// Regions a `*` discovery lists at once ([`Session::per_region`]).
pub const REGIONS_AT_ONCE: usize = 8;

/// The shared handle every AWS probe holds: settings → [`Session`], each built once.
#[derive(Default)]
pub struct Aws {
    overrides: AwsOverrides,
    /// A failed build is kept too: with no credentials every call would fail the same way,
    /// and asking the credential chain again for each of 1,000 buckets would only be slow.
    sessions: Mutex<HashMap<SessionKey, Arc<SessionCell>>>,
    /// The accounts of a multi-account run, resolved once per inventory.
    account_sets: Mutex<HashMap<String, Arc<AccountSetCell>>>,
}

/// An account list resolved once (or the reason it could not be).
type AccountSetCell = OnceCell<Result<Arc<AccountSet>, ProbeError>>;

/// A session built once (or the reason it could not be).
type SessionCell = OnceCell<Result<Arc<Session>, ProbeError>>;

/// What tests and embedders may replace in the factory; everything else (region, profile,
/// endpoint, path-style, retry mode, timeouts) stays the real thing.
#[derive(Clone, Debug, Default)]
pub struct AwsOverrides {
    /// Credentials instead of the standard chain (tests against an emulator).
    pub credentials: Option<SharedCredentialsProvider>,
    /// An HTTP client instead of the default one (the SDK's replay client in tests).
    pub http_client: Option<SharedHttpClient>,
    /// A retry policy instead of adaptive retries with the SDK's back-off (tests shorten it).
    pub retry: Option<RetryConfig>,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct SessionKey {
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
    regions: Option<Vec<String>>,
    concurrency: usize,
    timeout: Duration,
    /// The account examined through its role (a multi-account run); `None`: the credentials'.
    account: Option<AccountScope>,
}

impl SessionKey {
    fn of(ctx: &ProbeContext) -> SessionKey {
        let aws = &ctx.inventory.aws;
        SessionKey {
            region: aws.region.clone(),
            profile: aws.profile.clone(),
            endpoint_url: aws.endpoint_url.clone(),
            regions: ctx
                .account
                .as_ref()
                .and_then(|a| a.regions.clone())
                .or_else(|| aws.regions.clone()),
            concurrency: ctx.options.cloud_concurrency.max(1),
            timeout: ctx.options.timeout,
            account: ctx.account.as_deref().cloned(),
        }
    }
}

impl Aws {
    /// A factory using the standard credential chain and HTTP client.
    pub fn new() -> Arc<Aws> {
        Arc::new(Aws::default())
    }

    /// A factory with some parts replaced (tests, embedding).
    pub fn with_overrides(overrides: AwsOverrides) -> Arc<Aws> {
        Arc::new(Aws {
            overrides,
            sessions: Mutex::default(),
            account_sets: Mutex::default(),
        })
    }

    /// The session for this run's settings, built on first use and shared afterwards. Records
    /// the caller identity into `ctx` (cheap after the first call: STS is asked once).
    pub async fn session(&self, ctx: &ProbeContext) -> Result<Arc<Session>, ProbeError> {
        let session = self.session_of(SessionKey::of(ctx)).await?;
        ctx.record_run_info(CALLER_IDENTITY, session.identity_json());
        check_account(&ctx.inventory.aws.account_ids, &session.identity)?;
        if let Some(endpoint) = &session.endpoint_override {
            // The run's, whichever account: every format warns that this is not AWS.
            ctx.without_account()
                .record_run_info(crate::probe::CONTEXT_AWS_ENDPOINT, endpoint.clone());
        }
        Ok(session)
    }

    /// The accounts a multi-account run examines (`[aws] accounts`, `[aws.organization]`),
    /// resolved once and recorded in `run.context` ([`CONTEXT_ACCOUNTS`]); `None` when the
    /// inventory names none (the one account of the credentials). An organisation that cannot
    /// be listed is the error of every AWS result.
    pub async fn accounts(
        &self,
        ctx: &ProbeContext,
    ) -> Option<Result<Arc<AccountSet>, ProbeError>> {
        let settings = &ctx.inventory.aws;
        if !settings.multi_account() {
            return None;
        }
        let base = ctx.without_account();
        let key = SessionKey::of(&base);
        let id = serde_json::to_string(&(
            format!("{key:?}"),
            &settings.accounts,
            &settings.organization,
            settings
                .accounts
                .iter()
                .map(|a| &a.external_id)
                .collect::<Vec<_>>(),
        ))
        .unwrap_or_default();
        let cell = self
            .account_sets
            .lock()
            .expect("aws account sets lock")
            .entry(id)
            .or_default()
            .clone();
        let res = cell
            .get_or_init(|| async {
                let session = match &settings.organization {
                    Some(_) => {
                        let s = self.session_of(key).await.map_err(|e| {
                            ProbeError::new(
                                e.kind,
                                format!("cannot list the organisation's accounts: {}", e.message),
                            )
                            .with_hint(e.hint.clone().unwrap_or_else(
                                || {
                                    "run with credentials of the management or a delegated \
                                 administrator account"
                                        .into()
                                },
                            ))
                        })?;
                        base.record_run_info(CALLER_IDENTITY, s.identity_json());
                        Some(s)
                    }
                    None => None,
                };
                accounts::resolve(settings, session.as_deref(), &base)
                    .await
                    .map(Arc::new)
                    .map_err(|e| {
                        let hint = e.hint.clone().unwrap_or_else(|| {
                            "listing needs organizations:ListAccounts (and ListAccountsForParent, \
                             ListChildren for include_ous) in the management or a delegated \
                             administrator account"
                                .into()
                        });
                        ProbeError::new(
                            e.kind,
                            format!("cannot list the organisation's accounts: {}", e.message),
                        )
                        .with_hint(hint)
                    })
            })
            .await
            .clone();
        Some(res)
    }

    async fn session_of(&self, key: SessionKey) -> Result<Arc<Session>, ProbeError> {
        let cell = self
            .sessions
            .lock()
            .expect("aws sessions lock")
            .entry(key.clone())
            .or_default()
            .clone();
        cell.get_or_init(|| Session::build(&key, &self.overrides))
            .await
            .clone()
    }
}

/// `[aws] account_id`: the run must be examining one of these accounts. Credentials for another
/// account (or an account that cannot be confirmed) make every AWS result `error`, instead of a
/// report about an empty or foreign estate.
fn check_account(
    pinned: &[String],
    identity: &Result<CallerIdentity, ProbeError>,
) -> Result<(), ProbeError> {
    if pinned.is_empty() {
        return Ok(());
    }
    let expected = pinned.join(", ");
    match identity {
        Ok(id) if pinned.iter().any(|a| a == &id.account) => Ok(()),
        Ok(id) => Err(ProbeError::new(
            ProbeErrorKind::Config,
            format!(
                "credentials are for account {}, inventory expects {expected}",
                if id.account.is_empty() {
                    "(none reported)"
                } else {
                    &id.account
                }
            ),
        )
        .with_hint("use the profile or role of the pinned account, or fix [aws] account_id")),
        Err(e) => Err(ProbeError::new(
            ProbeErrorKind::Config,
            format!("cannot confirm the account (inventory expects {expected}): {e}"),
        )
        .with_hint("[aws] account_id needs sts:GetCallerIdentity to succeed")),
    }
}

/// STS's own `code: message` out of the SDK's rendering of a credentials failure (`…
/// unhandled error (AccessDenied): Error { code: "AccessDenied", message: "User: … is not
/// authorized to perform: sts:AssumeRole …" }`); the whole text when it has no such part.
fn sts_words(detail: &str) -> String {
    let field = |name: &str| {
        let start = detail.find(&format!("{name}: \""))? + name.len() + 3;
        let end = detail[start..].find('"')?;
        Some(&detail[start..start + end])
    };
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => detail
            .strip_prefix("sts:GetCallerIdentity: no usable AWS credentials (")
            .and_then(|d| d.strip_suffix(')'))
            .unwrap_or(detail)
            .to_string(),
    }
}

/// A URL with any `user:password@` replaced by `REDACTED@`: endpoint URLs go into reports.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://REDACTED@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The account and principal whose credentials the run used.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// One run's AWS settings made real: config, clients, limits and identity. See the module docs.
pub struct Session {
    config: SdkConfig,
    region: String,
    /// `[aws] regions` / `--aws-regions`: what a regional `*` covers (see [`Session::scan_regions`]).
    regions: Option<Vec<String>>,
    /// EC2 DescribeRegions, asked once, when some `*` covers every enabled region.
    enabled_regions: OnceCell<Result<(Vec<String>, Value), ProbeError>>,
    endpoint_overridden: bool,
    /// What overrode AWS's endpoints, for `run.context` (`{url, source, services}`).
    endpoint_override: Option<Value>,
    concurrency: usize,
    clients: Mutex<HashMap<(TypeId, String), Box<dyn Any + Send + Sync>>>,
    limits: Mutex<HashMap<&'static str, Arc<Semaphore>>>,
    identity: Result<CallerIdentity, ProbeError>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("region", &self.region)
            .field("endpoint_overridden", &self.endpoint_overridden)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Session {
    async fn build(key: &SessionKey, overrides: &AwsOverrides) -> Result<Arc<Session>, ProbeError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                overrides
                    .retry
                    .clone()
                    .unwrap_or_else(|| RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS)),
            )
            .timeout_config({
                // A third of the observation's budget per attempt, so a black-holed attempt
                // still leaves room for the retries within the engine's timeout.
                let attempt = (key.timeout / MAX_ATTEMPTS).max(Duration::from_secs(1));
                TimeoutConfig::builder()
                    .connect_timeout(attempt.min(Duration::from_secs(3)))
                    .operation_attempt_timeout(attempt)
                    .build()
            });
        if let Some(profile) = &key.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &key.region {
            loader = loader.region(Region::new(region.clone()));
        }
        // Explicit inventory setting first; otherwise aws-config reads AWS_ENDPOINT_URL (and the
        // per-service AWS_ENDPOINT_URL_<SERVICE>) and the profile's endpoint_url itself.
        if let Some(url) = &key.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(creds) = &overrides.credentials {
            loader = loader.credentials_provider(creds.clone());
        }
        if let Some(http) = &overrides.http_client {
            loader = loader.http_client(http.clone());
        }
        let mut config = loader.load().await;
        if let Some(role) = key.account.as_ref().and_then(|a| a.role_arn.as_ref()) {
            // The SDK's provider: AssumeRole with the loaded chain as the source credentials,
            // cached and refreshed before they expire by the config's identity cache.
            let account = key.account.as_ref().expect("role of an account");
            let mut assume = aws_config::sts::AssumeRoleProvider::builder(role.clone())
                .session_name("vouch")
                .configure(&config);
            if let Some(external_id) = &account.external_id {
                assume = assume.external_id(external_id.clone());
            }
            let provider = assume.build().await;
            config = config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
        }
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            ProbeError::new(ProbeErrorKind::Config, "no AWS region configured").with_hint(
                "set [aws] region in vouch.toml, --aws-region, AWS_REGION, or a region in the profile",
            )
        })?;
        let endpoint_overridden = config.endpoint_url().is_some()
            || std::env::vars_os().any(|(k, _)| {
                k.to_str()
                    .is_some_and(|k| k.starts_with("AWS_ENDPOINT_URL_"))
            });
        let services: serde_json::Map<String, Value> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_ENDPOINT_URL_"))
            .map(|(k, v)| (k, Value::from(redact_userinfo(&v))))
            .collect();
        let endpoint_override = endpoint_overridden.then(|| {
            let source = if key.endpoint_url.is_some() {
                "[aws] endpoint_url or --aws-endpoint-url"
            } else if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
                "AWS_ENDPOINT_URL"
            } else {
                "the AWS profile's endpoint_url"
            };
            serde_json::json!({
                "url": config.endpoint_url().map(redact_userinfo),
                "source": source,
                "services": services,
            })
        });
        let mut session = Session {
            config,
            region,
            regions: key.regions.clone(),
            enabled_regions: OnceCell::new(),
            endpoint_overridden,
            endpoint_override,
            concurrency: key.concurrency,
            clients: Mutex::default(),
            limits: Mutex::default(),
            identity: Err(ProbeError::new(ProbeErrorKind::Other, "not asked yet")),
        };
        session.identity = session.caller_identity().await;
        if let Some(account) = &key.account {
            // An account's role that cannot be assumed (or credentials of another account)
            // fails this account's session, and so only this account's results.
            session.identity = Ok(session.account_identity(account)?);
        }
        match &session.identity {
            // No credentials at all: every client shares them, so every call would fail alike.
            Err(e) if e.kind == ProbeErrorKind::Config => return Err(e.clone()),
            // Otherwise go on (a network without an STS endpoint may still reach the others);
            // the run section shows why the account is unknown.
            Err(e) => tracing::warn!("could not identify the AWS caller: {e}"),
            Ok(_) => {}
        }
        Ok(Arc::new(session))
    }

    /// The identity of a multi-account run's account session: the role assumed, in that
    /// account. Anything else is this account's error, naming the role and what would fix it.
    fn account_identity(&self, account: &AccountScope) -> Result<CallerIdentity, ProbeError> {
        let via = match &account.role_arn {
            Some(role) => format!("role {role}"),
            None => "the run's own credentials".to_string(),
        };
        match &self.identity {
            Ok(id) if id.account == account.id => Ok(id.clone()),
            Ok(id) => Err(ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "account {}: {via} gave credentials for account {}",
                    account.id,
                    if id.account.is_empty() {
                        "(none reported)"
                    } else {
                        &id.account
                    }
                ),
            )
            .with_hint(match &account.role_arn {
                Some(_) => "the role ARN must name a role of this account",
                None => "give the account a role_arn, or [aws.organization] role_name",
            })),
            Err(e) => Err(ProbeError::new(
                ProbeErrorKind::Denied,
                format!(
                    "account {}: cannot assume {via}: {}",
                    account.id,
                    // The SDK reports the refused AssumeRole through the first call that
                    // needed the credentials; keep STS's own words.
                    sts_words(&e.message)
                ),
            )
            .with_hint(match &account.role_arn {
                Some(_) => format!(
                    "the role must exist in account {} and trust the principal running vouch \
                     (sts:AssumeRole{}); the other accounts are examined regardless",
                    account.id,
                    if account.external_id.is_some() {
                        ", with the external id given"
                    } else {
                        ""
                    }
                ),
                None => "check the run's credentials".to_string(),
            })),
        }
    }

    async fn caller_identity(&self) -> Result<CallerIdentity, ProbeError> {
        let sts: aws_sdk_sts::Client = self.client(None);
        let calls = ApiCalls::default();
        let out = self
            .call(&calls, "sts", "GetCallerIdentity", &self.region, |c| {
                sts.get_caller_identity().customize().interceptor(c).send()
            })
            .await?;
        Ok(CallerIdentity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// The run's home region (inventory, flag, environment or profile).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The regions a `*` target of a regional service covers, recorded in the run section
    /// (`aws.regions`: `{from, regions}`): `[aws] regions` when it lists names; otherwise (unset,
    /// or `"enabled"`) every region enabled for the account, from EC2 DescribeRegions, asked
    /// once per run. A claim about the account is not a claim about one region. Fails closed:
    /// when the enabled regions cannot be listed the discovery is an error (with a hint to set
    /// `[aws] regions`), never a scan of fewer regions.
    pub async fn scan_regions(&self, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        let (from, regions) = match self.regions.as_deref() {
            // `check_regions` has made sure "enabled" stands alone.
            Some(list) if !(list.len() == 1 && list[0] == crate::inventory::ENABLED_REGIONS) => {
                ("[aws] regions", list.to_vec())
            }
            listed => {
                let (regions, calls) = self
                    .enabled_regions
                    .get_or_init(|| self.list_enabled_regions())
                    .await
                    .clone()?;
                ctx.record_run_info(
                    "aws.enabled_regions",
                    serde_json::json!({"regions": regions, "api_calls": calls}),
                );
                let from = if listed.is_some() {
                    "every enabled region ([aws] regions = \"enabled\"; EC2 DescribeRegions)"
                } else {
                    "every enabled region ([aws] regions unset; EC2 DescribeRegions)"
                };
                (from, regions)
            }
        };
        ctx.record_run_info(
            "aws.regions",
            serde_json::json!({"from": from, "regions": regions}),
        );
        Ok(regions)
    }

    /// The targets `each` finds in every region [`Session::scan_regions`] covers, up to
    /// [`REGIONS_AT_ONCE`] regions at a time, in region order; the first error stops the
    /// discovery (fails closed, as a sequential walk would). A `*` over every enabled region
    /// (17 or more on a real account) walked one region after the other spends the whole
    /// discovery timeout on round trips.
    pub async fn per_region<T, F, Fut>(
        &self,
        ctx: &ProbeContext,
        each: F,
    ) -> Result<Vec<T>, ProbeError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<Vec<T>, ProbeError>>,
    {
        use futures::{StreamExt, TryStreamExt};
        let regions = self.scan_regions(ctx).await?;
        let found: Vec<Vec<T>> = futures::stream::iter(regions.into_iter().map(each))
            .buffered(REGIONS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Every region enabled for the account (EC2 DescribeRegions without `AllRegions`: the
    /// regions that need no opt-in and those opted in; one call, the API does not page).
    async fn list_enabled_regions(&self) -> Result<(Vec<String>, Value), ProbeError> {
        let ec2: aws_sdk_ec2::Client = self.client(None);
        let calls = ApiCalls::default();
        let out = self
            .call(&calls, "ec2", "DescribeRegions", &self.region, |c| {
                ec2.describe_regions().customize().interceptor(c).send()
            })
            .await
            .map_err(|e| {
                let what = if e.kind == ProbeErrorKind::Denied {
                    "vouch needs ec2:DescribeRegions (docs/iam-policy.json) to list them"
                } else {
                    "they could not be listed"
                };
                e.with_hint(format!(
                    "`*` covers every region enabled for the account and {what}; or set \
                     [aws] regions (or --aws-regions) to the regions to scan"
                ))
            })?;
        let mut regions: Vec<String> = out
            .regions()
            .iter()
            // Without AllRegions the answer holds only enabled regions; checked again in case
            // an endpoint ignores that and lists a region not opted in.
            .filter(|r| r.opt_in_status() != Some("not-opted-in"))
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect();
        regions.sort();
        regions.dedup();
        if regions.is_empty() {
            return Err(ProbeError::new(
                ProbeErrorKind::Protocol,
                "EC2 DescribeRegions listed no enabled region",
            )
            .with_hint("set [aws] regions (or --aws-regions) to the regions to scan"));
        }
        Ok((regions, calls.into_summaries()))
    }

    /// The ARN of `resource` (`key/ID`, `table/NAME`, …) of `service` in `region`, for a listing
    /// that left it out: the partition from the region, the account from the caller identity
    /// (empty when STS could not say).
    pub fn arn(&self, service: &str, region: &str, resource: &str) -> String {
        let account = self.identity().map(|i| i.account.as_str());
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            partition(region),
            account.unwrap_or_default()
        )
    }

    /// Whether an endpoint override is in force (an emulator or a VPC endpoint).
    pub fn endpoint_overridden(&self) -> bool {
        self.endpoint_overridden
    }

    /// The loaded configuration, for services that need more than [`Session::client`].
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// Who the run is: `None` when STS could not say (the reason is in the run section).
    pub fn identity(&self) -> Option<&CallerIdentity> {
        self.identity.as_ref().ok()
    }

    fn identity_json(&self) -> serde_json::Value {
        match &self.identity {
            Ok(id) => serde_json::json!({"account": id.account, "arn": id.arn}),
            Err(e) => serde_json::json!({"account": null, "arn": null, "error": e.to_string()}),
        }
    }

    /// The client of service `C` for `region` (the home region when `None`), made once.
    pub fn client<C: ServiceClient>(&self, region: Option<&str>) -> C {
        let region = region.unwrap_or(&self.region).to_string();
        let mut clients = self.clients.lock().expect("aws clients lock");
        let entry = clients
            .entry((TypeId::of::<C>(), region.clone()))
            .or_insert_with(|| {
                Box::new(C::build(
                    &self.config,
                    Region::new(region),
                    self.endpoint_overridden,
                ))
            });
        entry
            .downcast_ref::<C>()
            .expect("client cache keyed by type")
            .clone()
    }

    fn limit(&self, service: &'static str) -> Arc<Semaphore> {
        self.limits
            .lock()
            .expect("aws limits lock")
            .entry(service)
            .or_insert_with(|| Arc::new(Semaphore::new(self.concurrency)))
            .clone()
    }

    /// Makes one API call: waits for the service's permit, records the response in `calls`,
    /// and maps a failure to a [`ProbeError`] naming the action and the principal.
    ///
    /// `send` receives the [`Capture`] interceptor to attach with `.customize().interceptor(c)`.
    pub async fn call<O, E, Fut>(
        &self,
        calls: &ApiCalls,
        service: &'static str,
        action: &'static str,
        region: &str,
        send: impl FnOnce(Capture) -> Fut,
    ) -> Result<O, ProbeError>
    where
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call_optional(calls, service, action, region, &[], send)
            .await?
            .ok_or_else(|| ProbeError::new(ProbeErrorKind::Other, "unreachable: no absent codes"))
    }

    /// Like [`Session::call`], but a service error whose code is in `absent` (e.g.
    /// `NoSuchBucketPolicy`) is `Ok(None)`: the configuration does not exist, which is a fact.
    pub async fn call_optional<O, E, Fut>(
        &self,
        calls: &ApiCalls,
        service: &'static str,
        action: &'static str,
        region: &str,
        absent: &[&str],
        send: impl FnOnce(Capture) -> Fut,
    ) -> Result<Option<O>, ProbeError>
    where
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (result, attempts) = self.call_raw(calls, service, action, region, send).await;
        match result {
            Ok(out) => Ok(Some(out)),
            Err(SdkError::ServiceError(se))
                if se.err().code().is_some_and(|c| absent.contains(&c)) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.map_error(&e, service, action, attempts)),
        }
    }

    /// Like [`Session::call`] but hands back the SDK's own result (and the attempts made), for
    /// the rare caller that must read an error's raw response (S3's `x-amz-bucket-region`).
    /// The call is still limited and recorded; map errors with [`Session::map_error`].
    pub async fn call_raw<O, E, Fut>(
        &self,
        calls: &ApiCalls,
        service: &'static str,
        action: &'static str,
        region: &str,
        send: impl FnOnce(Capture) -> Fut,
    ) -> (Result<O, SdkError<E, HttpResponse>>, u32)
    where
        Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let limit = self.limit(service);
        let _permit = limit.acquire().await.expect("semaphore never closed");
        let capture = Capture::default();
        let result = send(capture.clone()).await;
        let code = match &result {
            Err(SdkError::ServiceError(se)) => se.err().code(),
            _ => None,
        };
        calls.record(&capture, service, action, region, code);
        (result, capture.attempts())
    }

    /// [`map_sdk_error`] with this session's principal.
    pub fn map_error<E>(
        &self,
        err: &SdkError<E, HttpResponse>,
        service: &str,
        action: &str,
        attempts: u32,
    ) -> ProbeError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        map_sdk_error(
            err,
            service,
            action,
            self.identity().map(|i| i.arn.as_str()),
            attempts,
        )
    }
}

/// An SDK client the session can build and cache: one per (service, region).
pub trait ServiceClient: Clone + Send + Sync + 'static {
    /// The IAM service prefix (`s3`, `kms`): names the semaphore and the actions in messages.
    const SERVICE: &'static str;
    fn build(config: &SdkConfig, region: Region, endpoint_overridden: bool) -> Self;
}

/// Implements [`ServiceClient`] for an SDK crate whose client needs nothing special:
/// `service_client!(aws_sdk_rds, "rds");` in the probe's module.
#[macro_export]
macro_rules! service_client {
    ($sdk:ident, $service:literal) => {
        impl $crate::probe::aws::ServiceClient for $sdk::Client {
            const SERVICE: &'static str = $service;
            fn build(
                config: &::aws_config::SdkConfig,
                region: ::aws_config::Region,
                _endpoint_overridden: bool,
            ) -> Self {
                $sdk::Client::from_conf($sdk::config::Builder::from(config).region(region).build())
            }
        }
    };
}

service_client!(aws_sdk_kms, "kms");
service_client!(aws_sdk_sts, "sts");
service_client!(aws_sdk_ec2, "ec2");

impl ServiceClient for aws_sdk_s3control::Client {
    const SERVICE: &'static str = "s3";
    fn build(config: &SdkConfig, region: Region, endpoint_overridden: bool) -> Self {
        let mut builder = aws_sdk_s3control::config::Builder::from(config).region(region);
        if endpoint_overridden {
            builder = builder.interceptor(EmulatorHost);
        }
        aws_sdk_s3control::Client::from_conf(builder.build())
    }
}

/// S3 Control puts the account id in front of the endpoint's host
/// (`123456789012.s3-control.eu-west-1.amazonaws.com`). An endpoint override on an IP address
/// or `localhost` (an emulator) has no such name, so there the label is dropped before the
/// request is signed; real and VPC endpoints keep it (their DNS answers for it).
#[derive(Debug, Clone, Copy)]
pub struct EmulatorHost;

impl aws_smithy_runtime_api::client::interceptors::Intercept for EmulatorHost {
    fn name(&self) -> &'static str {
        "vouch-emulator-host"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let request = context.request_mut();
        if let Some(uri) = without_account_label(request.uri()) {
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

/// `http://123456789012.127.0.0.1:5000/path` → `http://127.0.0.1:5000/path`; `None` when the
/// host does not start with a 12-digit label or what follows is not an IP address or localhost.
fn without_account_label(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let (label, after) = rest.split_once('.')?;
    if label.len() != 12 || !label.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let authority = after.split(['/', '?']).next().unwrap_or(after);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let emulator =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok();
    emulator.then(|| format!("{scheme}://{after}"))
}

impl ServiceClient for aws_sdk_s3::Client {
    const SERVICE: &'static str = "s3";
    fn build(config: &SdkConfig, region: Region, endpoint_overridden: bool) -> Self {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .region(region)
                // Emulators and VPC endpoints do not serve bucket.host names.
                .force_path_style(endpoint_overridden)
                .build(),
        )
    }
}

/// The target naming a resource that discovery found in `region`: its plain `name` in the
/// home region (as a user would write it), its `arn` elsewhere, so the observation asks the
/// resource's own region.
pub fn regional_target(
    session: &Session,
    region: &str,
    name: &str,
    arn: impl FnOnce() -> String,
) -> String {
    if region == session.region() {
        name.to_string()
    } else {
        arn()
    }
}

/// The ARN partition of a region: `aws`, `aws-cn` (cn-*) or `aws-us-gov` (us-gov-*).
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Whole days from `from` to now (negative when `from` is in the future).
pub fn age_days(from: jiff::Timestamp) -> i64 {
    let secs = jiff::Timestamp::now().as_second() - from.as_second();
    secs.div_euclid(86_400)
}

/// An SDK `DateTime` as a jiff timestamp (RFC 3339 in facts).
pub fn timestamp(t: &aws_smithy_types::DateTime) -> Option<jiff::Timestamp> {
    jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok()
}

/// Lines naming each fact a table shows as `?`, and why.
pub fn unobserved_notes(observations: &[Observation]) -> String {
    let mut out = String::new();
    for obs in observations {
        for (path, why) in &obs.unobserved {
            out.push_str(&format!("not observed: {} {path}: {why}\n", obs.target));
        }
    }
    out
}

/// A fact's value for a table cell: `—` for null, `?` for not observed.
pub fn show(obs: &Observation, path: &str) -> String {
    match obs.facts.get(path) {
        None => "?".into(),
        Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Marks facts unobserved because the call that feeds them failed.
pub fn unobserved(obs: &mut Observation, paths: &[&str], e: &ProbeError) {
    for p in paths {
        obs.unobserved(p, e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::without_account_label;

    #[test]
    fn the_account_label_is_dropped_only_in_front_of_an_emulator() {
        assert_eq!(
            without_account_label(
                "http://123456789012.127.0.0.1:5000/v20180820/configuration/publicAccessBlock"
            ),
            Some("http://127.0.0.1:5000/v20180820/configuration/publicAccessBlock".into())
        );
        assert_eq!(
            without_account_label("http://123456789012.localhost:4566/x"),
            Some("http://localhost:4566/x".into())
        );
        assert_eq!(
            without_account_label("http://123456789012.[::1]:5000/x"),
            Some("http://[::1]:5000/x".into())
        );
        // Real and VPC endpoints keep it: their DNS answers for it.
        assert_eq!(
            without_account_label("https://123456789012.s3-control.eu-west-1.amazonaws.com/x"),
            None
        );
        assert_eq!(
            without_account_label(
                "https://123456789012.control.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com/x"
            ),
            None
        );
        assert_eq!(without_account_label("http://127.0.0.1:5000/x"), None);
        assert_eq!(without_account_label("http://1234.127.0.0.1:5000/x"), None);
    }
}
