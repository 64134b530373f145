//! `aws.iam`: the identity hygiene of the account the credentials belong to (target
//! `account`): the password policy, the root user's MFA and access keys (GetAccountSummary),
//! and, from the IAM credential report (generated, polled until ready within a bounded wait,
//! parsed as CSV), the users who can sign in to the console without MFA and the active access
//! keys older than `max_key_age_days`.
//!
//! Secrets: the credential report carries no key ids and no secrets, only names, ARNs, dates
//! and flags; vouch lists no access keys itself, so no access key id (truncated or not) reaches
//! the evidence. Stale keys are named `user/key1` or `user/key2`, the report's own slots.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::{FeatureType, ReportStateType, SummaryKeyType};
use serde_json::{Value, json};

use super::common::render_facts;
use super::{ApiCalls, Aws, timestamp, unobserved};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "iam";

crate::service_client!(aws_sdk_iam, "iam");

/// Default for `max_key_age_days` (CIS AWS Foundations: rotate access keys every 90 days).
pub const DEFAULT_MAX_KEY_AGE_DAYS: i64 = 90;

/// The verbatim credential report is attached up to this size (large accounts summarised).
const MAX_REPORT_ATTACHMENT: usize = 4 * 1024 * 1024;

/// The credential report row of the root user.
const ROOT_ROW: &str = "<root_account>";

const FACTS: &[FactSpec] = &[
    fact(
        "password_policy.present",
        FactType::Bool,
        "the account has a custom password policy",
    ),
    fact(
        "password_policy.minimum_length",
        FactType::Integer,
        "minimum password length; null without a policy",
    ),
    fact(
        "password_policy.require_symbols",
        FactType::Bool,
        "passwords need a symbol (false without a policy)",
    ),
    fact(
        "password_policy.require_numbers",
        FactType::Bool,
        "passwords need a digit (false without a policy)",
    ),
    fact(
        "password_policy.require_uppercase",
        FactType::Bool,
        "passwords need an uppercase letter (false without a policy)",
    ),
    fact(
        "password_policy.require_lowercase",
        FactType::Bool,
        "passwords need a lowercase letter (false without a policy)",
    ),
    fact(
        "password_policy.reuse_prevention",
        FactType::Integer,
        "previous passwords that cannot be reused; null when not set",
    ),
    fact(
        "password_policy.max_age_days",
        FactType::Integer,
        "days before a password expires; null when passwords do not expire",
    ),
    fact(
        "root.mfa_enabled",
        FactType::Bool,
        "the root user has an MFA device (AccountMFAEnabled)",
    ),
    fact(
        "root.credentials_centrally_managed",
        FactType::Bool,
        "the organization manages member accounts' root credentials centrally \
         (ListOrganizationsFeatures lists RootCredentialsManagement); false outside an \
         organization or when IAM's trusted access is off; unobserved when this account cannot \
         ask (a member account, or the call denied)",
    ),
    fact(
        "root.access_keys",
        FactType::Bool,
        "the root user has access keys (AccountAccessKeysPresent)",
    ),
    fact(
        "users.count",
        FactType::Integer,
        "IAM users in the credential report (root not counted)",
    ),
    fact(
        "users.console_without_mfa",
        FactType::StringList,
        "users with a console password and no MFA device",
    ),
    fact(
        "users.stale_access_keys",
        FactType::StringList,
        "active access keys older than max_key_age_days, as user/key1 or user/key2",
    ),
    fact(
        "users.unused_credentials",
        FactType::StringList,
        "enabled credentials unused for more than max_unused_days (never used: counted from when they were set), as user/password, user/key1 or user/key2; root not included",
    ),
    fact(
        "credential_report.generated",
        FactType::Timestamp,
        "when AWS generated the credential report read",
    ),
];

const PARAMS: &[FactSpec] = &[
    fact(
        "max_key_age_days",
        FactType::Integer,
        "an active access key older than this many days is stale (default 90)",
    ),
    fact(
        "max_unused_days",
        FactType::Integer,
        "a console password or active access key not used for more than this many days is unused (default 45, CIS AWS Foundations)",
    ),
];

/// Default for `max_unused_days` (CIS AWS Foundations 3.0, 1.12: credentials unused for 45 days
/// or more are disabled).
pub const DEFAULT_MAX_UNUSED_DAYS: i64 = 45;

const POLICY_FACTS: [&str; 8] = [
    "password_policy.present",
    "password_policy.minimum_length",
    "password_policy.require_symbols",
    "password_policy.require_numbers",
    "password_policy.require_uppercase",
    "password_policy.require_lowercase",
    "password_policy.reuse_prevention",
    "password_policy.max_age_days",
];
const REPORT_FACTS: [&str; 5] = [
    "users.count",
    "users.console_without_mfa",
    "users.stale_access_keys",
    "users.unused_credentials",
    "credential_report.generated",
];

/// The `aws.iam` probe.
pub struct IamProbe {
    aws: Arc<Aws>,
}

impl IamProbe {
    pub fn new(aws: Arc<Aws>) -> IamProbe {
        IamProbe { aws }
    }
}

#[async_trait]
impl Probe for IamProbe {
    fn kind(&self) -> &'static str {
        "aws.iam"
    }
    fn description(&self) -> &'static str {
        "the account's password policy, root MFA and keys, console users without MFA, stale access keys"
    }
    fn target_syntax(&self) -> &'static str {
        "`account` (the account of the credentials), or its 12-digit account id"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn params(&self) -> &'static [FactSpec] {
        PARAMS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "account" || (target.len() == 12 && target.bytes().all(|b| b.is_ascii_digit()))
        {
            Ok(())
        } else {
            Err("`account` or a 12-digit account id".into())
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:iam".into()
    }

    async fn observe(
        &self,
        target: &str,
        params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        self.check_target(target).map_err(|e| {
            ProbeError::new(ProbeErrorKind::InvalidTarget, format!("`{target}`: {e}"))
                .with_hint("IAM settings are per account: use the target `account`")
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let account = session.identity().map(|i| i.account.clone());
        if target != "account" && account.as_deref() != Some(target) {
            return Err(ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "the credentials belong to account {}, not {target}",
                    account
                        .as_deref()
                        .unwrap_or("(unknown: STS did not answer)")
                ),
            )
            .with_hint("use credentials (profile) of that account, or the target `account`"));
        }
        let max_age = params
            .get("max_key_age_days")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_MAX_KEY_AGE_DAYS);
        let max_unused = params
            .get("max_unused_days")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_MAX_UNUSED_DAYS);
        // IAM is global: one endpoint, whatever the home region.
        let region = session.region().to_string();
        let iam: Client = session.client(None);
        let calls = ApiCalls::default();

        // The account summary is the call that says we can look at this account's IAM at all.
        let summary = session
            .call(&calls, SERVICE, "GetAccountSummary", &region, |c| {
                iam.get_account_summary().customize().interceptor(c).send()
            })
            .await?;
        let mut obs = Observation::new(self.kind(), target);
        let map = summary.summary_map();
        let flag = |k: SummaryKeyType| map.and_then(|m| m.get(&k)).map(|v| *v > 0);
        match flag(SummaryKeyType::AccountMfaEnabled) {
            Some(v) => obs.fact("root.mfa_enabled", v),
            None => obs.unobserved(
                "root.mfa_enabled",
                "GetAccountSummary gave no AccountMFAEnabled",
            ),
        };
        match flag(SummaryKeyType::AccountAccessKeysPresent) {
            Some(v) => obs.fact("root.access_keys", v),
            None => obs.unobserved(
                "root.access_keys",
                "GetAccountSummary gave no AccountAccessKeysPresent",
            ),
        };

        // Centralized root access (AWS Organizations): only the management account or a
        // delegated administrator may ask. Not in an organization, not in all-features mode, or
        // IAM's trusted access off all mean "not centrally managed"; any other refusal (a member
        // account, access denied) leaves the fact unobserved, so a control scoped on it cannot
        // decide and fails closed.
        let features = session
            .call_optional(
                &calls,
                SERVICE,
                "ListOrganizationsFeatures",
                &region,
                &[
                    "OrganizationNotFoundException",
                    "OrganizationNotInAllFeaturesModeException",
                    "ServiceAccessNotEnabledException",
                ],
                |c| {
                    iam.list_organizations_features()
                        .customize()
                        .interceptor(c)
                        .send()
                },
            )
            .await;
        // The feature on for the organization does not mean this account's root has no
        // credentials: the management account keeps its own, and a member's are gone only once
        // deleted. Centrally managed = the feature on AND no root password AND no root keys.
        let root_password = flag(SummaryKeyType::AccountPasswordPresent);
        let root_keys = flag(SummaryKeyType::AccountAccessKeysPresent);
        // A root that still has a password or access keys is not centrally managed, whatever
        // the organization says or whether this account may ask: the MFA control judges it.
        let root_has_credentials = root_password == Some(true) || root_keys == Some(true);
        match features {
            _ if root_has_credentials => {
                obs.fact("root.credentials_centrally_managed", false);
            }
            Ok(Some(f)) => {
                let on = f
                    .enabled_features()
                    .contains(&FeatureType::RootCredentialsManagement);
                obs.evidence(
                    "organizations_features",
                    json!({
                        "organization_id": f.organization_id(),
                        "enabled_features": f.enabled_features().iter().map(|x| x.as_str()).collect::<Vec<_>>(),
                    }),
                );
                match (on, root_password, root_keys) {
                    (false, _, _) => {
                        obs.fact("root.credentials_centrally_managed", false);
                    }
                    (true, Some(pw), Some(keys)) => {
                        obs.fact("root.credentials_centrally_managed", !pw && !keys);
                    }
                    (true, _, _) => {
                        obs.unobserved(
                            "root.credentials_centrally_managed",
                            "RootCredentialsManagement is on, but GetAccountSummary gave no \
                             AccountPasswordPresent/AccountAccessKeysPresent to tell whether \
                             this account's root credentials were removed",
                        );
                    }
                }
            }
            Ok(None) => {
                obs.fact("root.credentials_centrally_managed", false);
            }
            Err(e) => {
                obs.unobserved(
                    "root.credentials_centrally_managed",
                    format!(
                        "only the organization's management account or IAM's delegated \
                         administrator can list its features ({e})"
                    ),
                );
            }
        }

        let policy = session.call_optional(
            &calls,
            SERVICE,
            "GetAccountPasswordPolicy",
            &region,
            &["NoSuchEntity"],
            |c| {
                iam.get_account_password_policy()
                    .customize()
                    .interceptor(c)
                    .send()
            },
        );
        // Leave a quarter of the observation's time for the calls after the wait.
        let budget = ctx.options.timeout.mul_f32(0.75);
        let report = credential_report(&session, &iam, &calls, &region, budget);
        let (policy, report) = tokio::join!(policy, report);

        match policy {
            Ok(None) => {
                obs.fact("password_policy.present", false);
                for p in [
                    "password_policy.minimum_length",
                    "password_policy.reuse_prevention",
                    "password_policy.max_age_days",
                ] {
                    obs.fact(p, Value::Null);
                }
                for p in [
                    "password_policy.require_symbols",
                    "password_policy.require_numbers",
                    "password_policy.require_uppercase",
                    "password_policy.require_lowercase",
                ] {
                    obs.fact(p, false);
                }
            }
            Ok(Some(out)) => match out.password_policy() {
                Some(p) => {
                    obs.fact("password_policy.present", true);
                    obs.fact(
                        "password_policy.minimum_length",
                        json!(p.minimum_password_length()),
                    );
                    obs.fact("password_policy.require_symbols", p.require_symbols());
                    obs.fact("password_policy.require_numbers", p.require_numbers());
                    obs.fact(
                        "password_policy.require_uppercase",
                        p.require_uppercase_characters(),
                    );
                    obs.fact(
                        "password_policy.require_lowercase",
                        p.require_lowercase_characters(),
                    );
                    obs.fact(
                        "password_policy.reuse_prevention",
                        json!(p.password_reuse_prevention().filter(|n| *n > 0)),
                    );
                    obs.fact(
                        "password_policy.max_age_days",
                        json!(
                            p.max_password_age()
                                .filter(|n| *n > 0 && p.expire_passwords())
                        ),
                    );
                }
                None => unobserved(
                    &mut obs,
                    &POLICY_FACTS,
                    &ProbeError::new(
                        ProbeErrorKind::Protocol,
                        "GetAccountPasswordPolicy answered without a PasswordPolicy",
                    ),
                ),
            },
            Err(e) => unobserved(&mut obs, &POLICY_FACTS, &e),
        }

        match report {
            Ok((csv_text, generated)) => {
                match read_report(&csv_text, max_age, max_unused, jiff::Timestamp::now()) {
                    Ok(r) => {
                        obs.fact("users.count", r.users);
                        obs.fact("users.console_without_mfa", json!(r.console_without_mfa));
                        obs.fact("users.stale_access_keys", json!(r.stale_access_keys));
                        obs.fact("users.unused_credentials", json!(r.unused_credentials));
                        obs.fact(
                            "credential_report.generated",
                            json!(generated.map(|t| t.to_string())),
                        );
                        obs.evidence(
                            "credential_report",
                            json!({
                                "generated": generated.map(|t| t.to_string()),
                                "max_key_age_days": max_age,
                                "max_unused_days": max_unused,
                                "rows": r.rows,
                            }),
                        );
                        if csv_text.len() <= MAX_REPORT_ATTACHMENT {
                            obs.attach("credential-report.csv", "text/csv", csv_text);
                        }
                    }
                    Err(e) => unobserved(&mut obs, &REPORT_FACTS, &e),
                }
            }
            Err(e) => unobserved(&mut obs, &REPORT_FACTS, &e),
        }

        obs.evidence("account", json!(account));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        let paths: Vec<&str> = FACTS.iter().map(|f| f.path).collect();
        let title = match obs.evidence.get("account").and_then(Value::as_str) {
            Some(a) => format!("account {a}"),
            None => obs.target.clone(),
        };
        Some(render_facts(obs, &title, &paths))
    }
}

/// Asks AWS to generate the credential report and waits (within `budget`) until it is ready,
/// then reads it: the CSV text and when it was generated. AWS reuses a report for four hours,
/// so the wait is usually none.
async fn credential_report(
    session: &super::Session,
    iam: &Client,
    calls: &ApiCalls,
    region: &str,
    budget: Duration,
) -> Result<(String, Option<jiff::Timestamp>), ProbeError> {
    let deadline = Instant::now() + budget;
    let mut delay = Duration::from_millis(250);
    loop {
        let out = session
            .call(calls, SERVICE, "GenerateCredentialReport", region, |c| {
                iam.generate_credential_report()
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await?;
        if out.state() == Some(&ReportStateType::Complete) {
            break;
        }
        if Instant::now() + delay > deadline {
            return Err(ProbeError::new(
                ProbeErrorKind::Timeout,
                format!(
                    "the IAM credential report was still being generated after {}s",
                    budget.as_secs()
                ),
            )
            .with_hint(
                "run again in a minute (AWS keeps a generated report for four hours), or raise \
                 --timeout",
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    let got = session
        .call(calls, SERVICE, "GetCredentialReport", region, |c| {
            iam.get_credential_report()
                .customize()
                .interceptor(c)
                .send()
        })
        .await?;
    let content = got.content().ok_or_else(|| {
        ProbeError::new(
            ProbeErrorKind::Protocol,
            "GetCredentialReport answered without Content",
        )
    })?;
    let text = String::from_utf8(content.as_ref().to_vec()).map_err(|_| {
        ProbeError::new(
            ProbeErrorKind::Protocol,
            "the credential report is not UTF-8 text",
        )
    })?;
    Ok((text, got.generated_time().and_then(timestamp)))
}

/// What the credential report says, as facts and a per-user evidence table.
#[derive(Debug, PartialEq)]
pub struct ReportReading {
    pub users: usize,
    pub console_without_mfa: Vec<String>,
    pub stale_access_keys: Vec<String>,
    pub unused_credentials: Vec<String>,
    /// One object per row: the columns the facts come from (no secrets exist in the report).
    pub rows: Vec<Value>,
}

/// Parses the credential report CSV. `now` fixes "today" for key ages (tests).
pub fn read_report(
    text: &str,
    max_key_age_days: i64,
    max_unused_days: i64,
    now: jiff::Timestamp,
) -> Result<ReportReading, ProbeError> {
    let bad = |why: String| {
        ProbeError::new(
            ProbeErrorKind::Protocol,
            format!("unreadable credential report: {why}"),
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let user_col = col("user").ok_or_else(|| bad("no `user` column".into()))?;
    let (pw, mfa) = (col("password_enabled"), col("mfa_active"));
    let mut out = ReportReading {
        users: 0,
        console_without_mfa: Vec::new(),
        stale_access_keys: Vec::new(),
        unused_credentials: Vec::new(),
        rows: Vec::new(),
    };
    let days = |t: jiff::Timestamp| (now.as_second() - t.as_second()) / 86_400;
    // Days since a credential was last used; never used (`N/A`, `no_information`): since it
    // was set (`set`, else the user's creation). A date that cannot be read is not shown to be
    // recent: None, which counts as unused (fail closed).
    let idle = |used: &str, set: &[&str]| -> Option<i64> {
        parse_report_time(used)
            .or_else(|| set.iter().find_map(|s| parse_report_time(s)))
            .map(days)
    };
    for rec in reader.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
        let user = get(Some(user_col)).to_string();
        let is_root = user == ROOT_ROW;
        if !is_root {
            out.users += 1;
        }
        let mut row = serde_json::Map::new();
        row.insert("user".into(), json!(user));
        row.insert("arn".into(), json!(get(col("arn"))));
        row.insert("password_enabled".into(), json!(get(pw)));
        row.insert("mfa_active".into(), json!(get(mfa)));
        if !is_root && get(pw) == "true" && get(mfa) != "true" {
            out.console_without_mfa.push(user.clone());
        }
        let created = get(col("user_creation_time"));
        if !is_root && get(pw) == "true" {
            let used = get(col("password_last_used"));
            let idle_days = idle(used, &[get(col("password_last_changed")), created]);
            row.insert("password_last_used".into(), json!(used));
            row.insert("password_idle_days".into(), json!(idle_days));
            if idle_days.is_none_or(|d| d > max_unused_days) {
                out.unused_credentials.push(format!("{user}/password"));
            }
        }
        for n in 1..=2 {
            let active = get(col(&format!("access_key_{n}_active")));
            let rotated = get(col(&format!("access_key_{n}_last_rotated")));
            row.insert(format!("access_key_{n}_active"), json!(active));
            row.insert(format!("access_key_{n}_last_rotated"), json!(rotated));
            if active != "true" {
                continue;
            }
            // An active key whose age cannot be read is not shown to be fresh: it counts.
            let age =
                parse_report_time(rotated).map(|t| (now.as_second() - t.as_second()) / 86_400);
            row.insert(format!("access_key_{n}_age_days"), json!(age));
            if age.is_none_or(|a| a > max_key_age_days) {
                out.stale_access_keys.push(format!("{user}/key{n}"));
            }
            if !is_root {
                let used = get(col(&format!("access_key_{n}_last_used_date")));
                let idle_days = idle(used, &[rotated, created]);
                row.insert(format!("access_key_{n}_last_used_date"), json!(used));
                row.insert(format!("access_key_{n}_idle_days"), json!(idle_days));
                if idle_days.is_none_or(|d| d > max_unused_days) {
                    out.unused_credentials.push(format!("{user}/key{n}"));
                }
            }
        }
        out.rows.push(Value::Object(row));
    }
    out.console_without_mfa.sort();
    out.stale_access_keys.sort();
    out.unused_credentials.sort();
    Ok(out)
}

/// The report writes ISO 8601 with an offset (`2025-01-31T10:00:00+00:00`) or `N/A`.
fn parse_report_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse::<jiff::Timestamp>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-01-01T00:00:00+00:00,not_supported,not_supported,false,true,2020-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::123456789012:user/alice,2024-01-01T00:00:00+00:00,true,N/A,2024-01-01T00:00:00+00:00,N/A,false,true,2026-10-01T00:00:00+00:00,N/A,N/A,N/A,true,2025-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
bob,arn:aws:iam::123456789012:user/bob,2024-01-01T00:00:00+00:00,true,N/A,2024-01-01T00:00:00+00:00,N/A,true,false,2020-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
ci,arn:aws:iam::123456789012:user/ci,2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

    #[test]
    fn the_report_names_console_users_without_mfa_and_stale_active_keys() {
        let now: jiff::Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        let r = read_report(REPORT, 90, 45, now).unwrap();
        assert_eq!(r.users, 3);
        assert_eq!(r.console_without_mfa, vec!["alice"]);
        // Root's old key, alice's second key; bob's old key is inactive; ci's has no date.
        assert_eq!(
            r.stale_access_keys,
            vec!["<root_account>/key1", "alice/key2", "ci/key1"]
        );
        let lenient = read_report(REPORT, 100_000, 45, now).unwrap();
        assert_eq!(lenient.stale_access_keys, vec!["ci/key1"]);
    }

    /// CIS 1.12 read from the last-used columns. Wrong answers prevented: a password or key
    /// used long ago counted as in use, a never-used credential set long ago counted as fresh,
    /// an inactive key or a user without a password counted, root counted (it has its own
    /// controls), an unreadable date counted as recent.
    #[test]
    fn unused_credentials_come_from_the_last_used_columns() {
        const R: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2020-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
leaver,arn:aws:iam::123456789012:user/leaver,2024-01-01T00:00:00+00:00,true,2026-09-01T00:00:00+00:00,2024-01-01T00:00:00+00:00,N/A,true,true,2024-01-01T00:00:00+00:00,2026-08-01T00:00:00+00:00,us-east-1,s3,false,2024-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
active,arn:aws:iam::123456789012:user/active,2024-01-01T00:00:00+00:00,true,2026-11-28T00:00:00+00:00,2024-01-01T00:00:00+00:00,N/A,true,true,2026-10-01T00:00:00+00:00,2026-11-28T09:00:00+00:00,us-east-1,s3,true,2026-11-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
never,arn:aws:iam::123456789012:user/never,2026-01-01T00:00:00+00:00,true,no_information,2026-01-01T00:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
newbie,arn:aws:iam::123456789012:user/newbie,2026-11-20T00:00:00+00:00,true,N/A,2026-11-20T00:00:00+00:00,N/A,true,true,2026-11-20T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
odd,arn:aws:iam::123456789012:user/odd,garbage,false,N/A,N/A,N/A,false,true,garbage,garbage,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";
        let now: jiff::Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        let r = read_report(R, 90, 45, now).unwrap();
        assert_eq!(
            r.unused_credentials,
            // Not active/key2: active since 2026-11-01 and never used, 28 days, not yet unused.
            vec![
                "leaver/key1",
                "leaver/password",
                "never/password",
                "odd/key1"
            ]
        );
        // A longer window lets the leaver's password (89 days) through, not its key (120).
        let r = read_report(R, 90, 100, now).unwrap();
        assert_eq!(
            r.unused_credentials,
            vec!["leaver/key1", "never/password", "odd/key1"]
        );
    }

    #[test]
    fn a_report_without_users_is_unreadable_not_empty() {
        assert!(read_report("a,b\n1,2\n", 90, 45, jiff::Timestamp::now()).is_err());
    }
}
