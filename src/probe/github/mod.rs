//! `github`: what the code host shows of a secure SDLC. Per repository (`org/repo`, or `org/*`
//! for every non-archived repository of an organisation): the default branch's protection
//! (classic branch protection and the rulesets that apply to it, combined), Dependabot alerts
//! and their ages (the patch windows), code scanning (last analysis of the default branch, open
//! alerts), secret scanning and push protection. Per organisation (`org`): whether two-factor
//! authentication is required, members without it, owners, the default repository permission,
//! outside collaborators.
//!
//! A feature that is off is an observed `false`; a feature the token may not read is
//! *unobserved*, with the permission GitHub says it needs (`x-accepted-github-permissions`,
//! `x-accepted-oauth-scopes`), so a control on it is an `error`, never a `pass` or a `fail`.

pub mod client;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::{Value, json};

use self::client::{Api, EtagCache, Response};
use crate::expect::{format_duration, parse_duration};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

const FACTS: &[FactSpec] = &[
    // Repository.
    fact(
        "repository.archived",
        FactType::Bool,
        "the repository is archived (read-only)",
    ),
    fact(
        "repository.visibility",
        FactType::String,
        "public, private or internal",
    ),
    fact(
        "repository.default_branch",
        FactType::String,
        "the default branch's name",
    ),
    fact(
        "protection.source",
        FactType::String,
        "what protects the default branch: branch_protection, rulesets, both or none",
    ),
    fact(
        "review.required_approvals",
        FactType::Integer,
        "approving reviews a pull request into the default branch needs (the largest of branch protection and rulesets; 0 when none)",
    ),
    fact(
        "review.dismiss_stale",
        FactType::Bool,
        "new commits dismiss earlier approvals",
    ),
    fact(
        "review.code_owners",
        FactType::Bool,
        "a code owner must approve changes to files they own",
    ),
    fact(
        "checks.required",
        FactType::StringList,
        "status checks that must pass before merging into the default branch",
    ),
    fact(
        "admins.enforced",
        FactType::Bool,
        "the protection binds administrators too (branch protection's enforce_admins; a ruleset no admin may bypass)",
    ),
    fact(
        "force_push.allowed",
        FactType::Bool,
        "force pushes to the default branch are allowed (true when nothing blocks them)",
    ),
    fact(
        "deletion.allowed",
        FactType::Bool,
        "the default branch may be deleted (true when nothing blocks it)",
    ),
    fact(
        "dependabot.alerts_enabled",
        FactType::Bool,
        "Dependabot alerts are on (false: GitHub answers that they are disabled)",
    ),
    fact(
        "dependabot.open.critical",
        FactType::Integer,
        "open Dependabot alerts of critical severity",
    ),
    fact(
        "dependabot.open.high",
        FactType::Integer,
        "open Dependabot alerts of high severity",
    ),
    fact(
        "dependabot.open.medium",
        FactType::Integer,
        "open Dependabot alerts of medium severity",
    ),
    fact(
        "dependabot.open.low",
        FactType::Integer,
        "open Dependabot alerts of low severity",
    ),
    fact(
        "dependabot.open.total",
        FactType::Integer,
        "open Dependabot alerts",
    ),
    fact(
        "dependabot.oldest_open_critical_age",
        FactType::Duration,
        "age of the oldest open critical alert; null when none is open",
    ),
    fact(
        "dependabot.oldest_open_high_age",
        FactType::Duration,
        "age of the oldest open high alert; null when none is open",
    ),
    fact(
        "dependabot.critical_past_window",
        FactType::Integer,
        "open critical alerts older than the `critical_window` parameter (default 7d)",
    ),
    fact(
        "dependabot.high_past_window",
        FactType::Integer,
        "open high alerts older than the `high_window` parameter (default 30d)",
    ),
    fact(
        "code_scanning.enabled",
        FactType::Bool,
        "code scanning is set up (false: not enabled, or no analysis ever uploaded)",
    ),
    fact(
        "code_scanning.last_analysis",
        FactType::Timestamp,
        "when the default branch was last analysed; null when never",
    ),
    fact(
        "code_scanning.open.critical",
        FactType::Integer,
        "open code scanning alerts of critical security severity",
    ),
    fact(
        "code_scanning.open.high",
        FactType::Integer,
        "open code scanning alerts of high security severity",
    ),
    fact(
        "code_scanning.open.medium",
        FactType::Integer,
        "open code scanning alerts of medium security severity",
    ),
    fact(
        "code_scanning.open.low",
        FactType::Integer,
        "open code scanning alerts of low security severity",
    ),
    fact(
        "code_scanning.open.total",
        FactType::Integer,
        "open code scanning alerts (any tool, any severity)",
    ),
    fact(
        "secret_scanning.enabled",
        FactType::Bool,
        "secret scanning is on",
    ),
    fact(
        "secret_scanning.push_protection",
        FactType::Bool,
        "push protection blocks commits that contain a detected secret",
    ),
    fact(
        "secret_scanning.open",
        FactType::Integer,
        "open secret scanning alerts",
    ),
    // Organisation.
    fact(
        "two_factor_required",
        FactType::Bool,
        "the organisation requires two-factor authentication of every member",
    ),
    fact(
        "members.without_2fa",
        FactType::Integer,
        "members without two-factor authentication (readable by owners)",
    ),
    fact(
        "owners.count",
        FactType::Integer,
        "organisation owners (members with the admin role)",
    ),
    fact(
        "default_repository_permission",
        FactType::String,
        "members' base permission on every repository: none, read, write or admin",
    ),
    fact(
        "outside_collaborators.count",
        FactType::Integer,
        "people with access to a repository who are not members",
    ),
];

const PARAMS: &[FactSpec] = &[
    fact(
        "critical_window",
        FactType::Duration,
        "patch window of a critical Dependabot alert (default 7d), for dependabot.critical_past_window",
    ),
    fact(
        "high_window",
        FactType::Duration,
        "patch window of a high Dependabot alert (default 30d), for dependabot.high_past_window",
    ),
];

/// The `github` probe. Its conditional-request cache is shared by the run's observations.
#[derive(Default)]
pub struct GithubProbe {
    cache: Arc<EtagCache>,
}

/// A target: an organisation, or one repository of it.
enum Target<'a> {
    Org(&'a str),
    Repo(&'a str, &'a str),
}

fn valid_owner(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
}

fn valid_repo(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn parse_target(t: &str) -> Result<Target<'_>, String> {
    let bad = || {
        format!(
            "`{t}` is not a GitHub target: expected an organisation (`acme`), a repository \
             (`acme/api`) or `acme/*` for every repository"
        )
    };
    match t.split_once('/') {
        None if valid_owner(t) => Ok(Target::Org(t)),
        Some((o, r)) if valid_owner(o) && (r == "*" || valid_repo(r)) => Ok(Target::Repo(o, r)),
        _ => Err(bad()),
    }
}

/// `%`-escapes a branch name for a path segment (`release/1.0` → `release%2F1.0`).
fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl GithubProbe {
    fn api(&self, ctx: &ProbeContext) -> Result<Api, ProbeError> {
        let gh = &ctx.inventory.github;
        let token = client::token(gh.token_env.as_deref())?;
        let tls = crate::probe::http::fetch::tls_config(ctx.inventory.tls.ca_file.as_deref())?;
        // Leave the engine a moment to record what was seen before its own timeout.
        let budget = ctx
            .options
            .timeout
            .saturating_sub(std::time::Duration::from_millis(250))
            .max(std::time::Duration::from_millis(250));
        Api::new(
            gh.api_url.as_deref().unwrap_or(client::DEFAULT_API_URL),
            token,
            tls,
            budget,
            self.cache.clone(),
        )
    }
}

/// How an answer that is not a 2xx reads for a security feature.
enum Refusal {
    /// GitHub says the feature is off (a fact: `false`).
    Disabled,
    /// The token may not look (unobserved, with what it needs).
    Forbidden(String),
}

/// Tells "the feature is off" from "you may not see it", by GitHub's own messages: "Dependabot
/// alerts are disabled for this repository.", "Secret scanning is disabled on this repository.",
/// "Code scanning is not enabled for this repository", "Advanced Security must be enabled for
/// this repository to use code scanning.", "no analysis found" (404 from code scanning). Any
/// other 403/404 ("Resource not accessible by integration", "Must have admin rights", "Not
/// Found" for a classic token without the scope) is the token's, not the repository's.
fn refusal(r: &Response, what: &str, default_need: &str) -> Refusal {
    let m = r.message().to_ascii_lowercase();
    let disabled = [
        "are disabled",
        "is disabled",
        "not enabled",
        "must be enabled",
        "no analysis found",
        "not available for archived",
    ];
    if (r.status == 403 || r.status == 404) && disabled.iter().any(|d| m.contains(d)) {
        return Refusal::Disabled;
    }
    let need = r.needed().unwrap_or_else(|| default_need.to_string());
    Refusal::Forbidden(format!(
        "GitHub answered {} to {what} (\"{}\"): the token needs {need}",
        r.status,
        r.message()
    ))
}

fn unobserve_all(obs: &mut Observation, paths: &[&str], why: &str) {
    for p in paths {
        obs.unobserved(p, why);
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_bool()
}

const PROTECTION_FACTS: [&str; 8] = [
    "protection.source",
    "review.required_approvals",
    "review.dismiss_stale",
    "review.code_owners",
    "checks.required",
    "admins.enforced",
    "force_push.allowed",
    "deletion.allowed",
];

fn param_window(params: &Params, name: &str, default: &str) -> u64 {
    params
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or_else(|| parse_duration(default).expect("default window"))
}

impl GithubProbe {
    async fn observe_repo(
        &self,
        api: &Api,
        owner: &str,
        name: &str,
        params: &Params,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let base = format!("repos/{owner}/{name}");
        let repo = api.get(&base).await?;
        match repo.status {
            200 => {}
            404 => {
                return Err(ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("repository {owner}/{name} not found"),
                )
                .with_hint(
                    "check the name; a private repository looks missing to a token that may \
                     not read it (fine-grained tokens: add it to the token's repositories)",
                ));
            }
            301 => {
                return Err(ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("repository {owner}/{name} was renamed or moved"),
                )
                .with_hint("use its new name in the inventory"));
            }
            _ => {
                return Err(repo.refused(&base, "read access to the repository (metadata)"));
            }
        }
        let r = &repo.body;
        let archived = r.get("archived").and_then(Value::as_bool).unwrap_or(false);
        obs.fact("repository.archived", archived);
        obs.fact(
            "repository.visibility",
            json!(r.get("visibility").and_then(Value::as_str).or_else(|| {
                r.get("private")
                    .and_then(Value::as_bool)
                    .map(|p| if p { "private" } else { "public" })
            })),
        );
        let branch = r
            .get("default_branch")
            .and_then(Value::as_str)
            .unwrap_or("main")
            .to_string();
        obs.fact("repository.default_branch", branch.as_str());

        self.protection(api, &base, &branch, obs).await?;
        self.dependabot(api, &base, params, obs).await?;
        self.code_scanning(api, &base, &branch, obs).await?;
        self.secret_scanning(api, &base, r, obs).await?;
        Ok(())
    }

    async fn protection(
        &self,
        api: &Api,
        base: &str,
        branch: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let bp = api
            .get(&format!("{base}/branches/{}/protection", seg(branch)))
            .await?;
        // 404 "Branch not protected" is an observed absence; any other refusal (403 "Must have
        // admin rights to Repository.", "Resource not accessible by integration") hides it.
        let classic: Option<&Value> = match bp.status {
            200 => Some(&bp.body),
            404 if bp.message().to_ascii_lowercase().contains("not protected") => None,
            _ => {
                let need = bp
                    .needed()
                    .unwrap_or_else(|| "administration:read (fine-grained) or repo (classic): branch protection is visible to admins".into());
                let why = format!(
                    "GitHub answered {} to branch protection of {branch} (\"{}\"): the token needs {need}",
                    bp.status,
                    bp.message()
                );
                unobserve_all(obs, &PROTECTION_FACTS, &why);
                return Ok(());
            }
        };
        let rules = match api
            .get_all(&format!("{base}/rules/branches/{}", seg(branch)))
            .await?
        {
            Ok(rules) => rules,
            Err(r) => {
                let why = format!(
                    "GitHub answered {} to the rules on {branch} (\"{}\"): the token needs {}",
                    r.status,
                    r.message(),
                    r.needed().unwrap_or_else(|| "metadata:read".into())
                );
                unobserve_all(obs, &PROTECTION_FACTS, &why);
                return Ok(());
            }
        };

        let mut approvals: i64 = 0;
        let mut dismiss_stale = false;
        let mut code_owners = false;
        let mut checks: BTreeSet<String> = BTreeSet::new();
        let mut admins_enforced = false;
        let mut force_push_blocked = false;
        let mut deletion_blocked = false;

        if let Some(bp) = classic {
            if let Some(pr) = bp.get("required_pull_request_reviews") {
                approvals = approvals.max(
                    pr.get("required_approving_review_count")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                );
                dismiss_stale |= bool_at(pr, &["dismiss_stale_reviews"]).unwrap_or(false);
                code_owners |= bool_at(pr, &["require_code_owner_reviews"]).unwrap_or(false);
            }
            if let Some(sc) = bp.get("required_status_checks") {
                for c in sc
                    .get("contexts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(c) = c.as_str() {
                        checks.insert(c.to_string());
                    }
                }
                for c in sc
                    .get("checks")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(c) = str_at(c, &["context"]) {
                        checks.insert(c.to_string());
                    }
                }
            }
            admins_enforced |= bool_at(bp, &["enforce_admins", "enabled"]).unwrap_or(false);
            // Absent means GitHub's default: force pushes and deletion blocked.
            force_push_blocked |= !bool_at(bp, &["allow_force_pushes", "enabled"]).unwrap_or(false);
            deletion_blocked |= !bool_at(bp, &["allow_deletions", "enabled"]).unwrap_or(false);
        }

        // Rulesets: every active rule on the branch, with the ruleset it comes from.
        let mut review_rulesets: BTreeSet<i64> = BTreeSet::new();
        for rule in &rules {
            let p = rule.get("parameters").cloned().unwrap_or(Value::Null);
            match rule.get("type").and_then(Value::as_str).unwrap_or("") {
                "pull_request" => {
                    approvals = approvals.max(
                        p.get("required_approving_review_count")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                    );
                    dismiss_stale |=
                        bool_at(&p, &["dismiss_stale_reviews_on_push"]).unwrap_or(false);
                    code_owners |= bool_at(&p, &["require_code_owner_review"]).unwrap_or(false);
                    if let Some(id) = rule.get("ruleset_id").and_then(Value::as_i64) {
                        review_rulesets.insert(id);
                    }
                }
                "required_status_checks" => {
                    for c in p
                        .get("required_status_checks")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(c) = str_at(c, &["context"]) {
                            checks.insert(c.to_string());
                        }
                    }
                }
                "non_fast_forward" => force_push_blocked = true,
                "deletion" => deletion_blocked = true,
                _ => {}
            }
        }
        // A ruleset requiring reviews binds admins unless an admin role may bypass it. Its
        // bypass list is only shown to those who may edit it: unreadable is unobserved.
        let mut admins_unknown: Option<String> = None;
        if !admins_enforced {
            for id in &review_rulesets {
                let rs = api.get(&format!("{base}/rulesets/{id}")).await?;
                if !rs.ok() {
                    admins_unknown = Some(format!(
                        "GitHub answered {} to ruleset {id} (\"{}\"): its bypass list needs {}",
                        rs.status,
                        rs.message(),
                        rs.needed().unwrap_or_else(|| "administration:read".into())
                    ));
                    continue;
                }
                match rs.body.get("bypass_actors").and_then(Value::as_array) {
                    None => {
                        admins_unknown = Some(format!(
                            "ruleset {id}'s bypass list is not shown to this token (it needs \
                             administration:read)"
                        ));
                    }
                    Some(actors) => {
                        let admin_bypass = actors.iter().any(|a| {
                            let t = a.get("actor_type").and_then(Value::as_str).unwrap_or("");
                            // Repository role 5 is `admin` (GitHub's built-in role ids).
                            t == "OrganizationAdmin"
                                || (t == "RepositoryRole"
                                    && a.get("actor_id").and_then(Value::as_i64) == Some(5))
                        });
                        if !admin_bypass {
                            admins_enforced = true;
                        }
                    }
                }
            }
        }

        let source = match (classic.is_some(), !rules.is_empty()) {
            (true, true) => "both",
            (true, false) => "branch_protection",
            (false, true) => "rulesets",
            (false, false) => "none",
        };
        obs.fact("protection.source", source);
        obs.fact("review.required_approvals", approvals);
        obs.fact("review.dismiss_stale", dismiss_stale);
        obs.fact("review.code_owners", code_owners);
        obs.fact(
            "checks.required",
            json!(checks.into_iter().collect::<Vec<_>>()),
        );
        match (admins_enforced, admins_unknown) {
            (false, Some(why)) => {
                obs.unobserved("admins.enforced", why);
            }
            (e, _) => {
                obs.fact("admins.enforced", e);
            }
        }
        obs.fact("force_push.allowed", !force_push_blocked);
        obs.fact("deletion.allowed", !deletion_blocked);
        Ok(())
    }

    async fn dependabot(
        &self,
        api: &Api,
        base: &str,
        params: &Params,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        const PATHS: [&str; 10] = [
            "dependabot.alerts_enabled",
            "dependabot.open.critical",
            "dependabot.open.high",
            "dependabot.open.medium",
            "dependabot.open.low",
            "dependabot.open.total",
            "dependabot.oldest_open_critical_age",
            "dependabot.oldest_open_high_age",
            "dependabot.critical_past_window",
            "dependabot.high_past_window",
        ];
        let alerts = match api
            .get_all(&format!("{base}/dependabot/alerts?state=open"))
            .await?
        {
            Ok(a) => a,
            Err(r) => {
                match refusal(
                    &r,
                    "Dependabot alerts",
                    "vulnerability_alerts:read (fine-grained) or security_events (classic)",
                ) {
                    Refusal::Disabled => {
                        obs.fact("dependabot.alerts_enabled", false);
                        for p in &PATHS[1..] {
                            obs.fact(p, Value::Null);
                        }
                    }
                    Refusal::Forbidden(why) => unobserve_all(obs, &PATHS, &why),
                }
                return Ok(());
            }
        };
        let now = Timestamp::now();
        let crit_window = param_window(params, "critical_window", "7d");
        let high_window = param_window(params, "high_window", "30d");
        let mut counts: BTreeMap<&str, i64> = SEVERITIES.iter().map(|s| (*s, 0)).collect();
        let mut oldest: BTreeMap<&str, u64> = BTreeMap::new();
        let mut past: BTreeMap<&str, i64> = BTreeMap::new();
        let mut total = 0;
        for a in &alerts {
            if a.get("state").and_then(Value::as_str) != Some("open") {
                continue;
            }
            total += 1;
            let sev = str_at(a, &["security_vulnerability", "severity"])
                .or_else(|| str_at(a, &["security_advisory", "severity"]))
                .unwrap_or("")
                .to_ascii_lowercase();
            let Some(sev) = SEVERITIES.iter().find(|s| **s == sev) else {
                continue;
            };
            *counts.get_mut(sev).expect("severity") += 1;
            let age = str_at(a, &["created_at"])
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map(|t| now.as_second().saturating_sub(t.as_second()).max(0) as u64);
            if let Some(age) = age {
                let o = oldest.entry(sev).or_insert(0);
                *o = (*o).max(age);
                let window = match *sev {
                    "critical" => Some(crit_window),
                    "high" => Some(high_window),
                    _ => None,
                };
                if window.is_some_and(|w| age > w) {
                    *past.entry(sev).or_insert(0) += 1;
                }
            }
        }
        obs.fact("dependabot.alerts_enabled", true);
        for (sev, n) in &counts {
            obs.fact(&format!("dependabot.open.{sev}"), *n);
        }
        obs.fact("dependabot.open.total", total);
        for sev in ["critical", "high"] {
            obs.fact(
                &format!("dependabot.oldest_open_{sev}_age"),
                json!(oldest.get(sev).map(|s| format_duration(*s))),
            );
            obs.fact(
                &format!("dependabot.{sev}_past_window"),
                past.get(sev).copied().unwrap_or(0),
            );
        }
        Ok(())
    }

    async fn code_scanning(
        &self,
        api: &Api,
        base: &str,
        branch: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        const PATHS: [&str; 7] = [
            "code_scanning.enabled",
            "code_scanning.last_analysis",
            "code_scanning.open.critical",
            "code_scanning.open.high",
            "code_scanning.open.medium",
            "code_scanning.open.low",
            "code_scanning.open.total",
        ];
        const NEED: &str = "security_events:read (fine-grained: code scanning alerts) or security_events (classic)";
        let branch_ref = format!("refs/heads/{branch}");
        // Most recent first: one analysis is enough.
        let analyses = api
            .get(&format!(
                "{base}/code-scanning/analyses?ref={}&per_page=1",
                seg(&branch_ref)
            ))
            .await?;
        if !analyses.ok() {
            match refusal(&analyses, "code scanning analyses", NEED) {
                Refusal::Disabled => {
                    obs.fact("code_scanning.enabled", false);
                    for p in &PATHS[1..] {
                        obs.fact(p, Value::Null);
                    }
                }
                Refusal::Forbidden(why) => unobserve_all(obs, &PATHS, &why),
            }
            return Ok(());
        }
        obs.fact("code_scanning.enabled", true);
        let last = analyses
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| str_at(a, &["created_at"]))
            .filter_map(|t| t.parse::<Timestamp>().ok())
            .max();
        obs.fact(
            "code_scanning.last_analysis",
            json!(last.map(|t| t.to_string())),
        );
        match api
            .get_all(&format!("{base}/code-scanning/alerts?state=open"))
            .await?
        {
            Ok(alerts) => {
                let mut counts: BTreeMap<&str, i64> = SEVERITIES.iter().map(|s| (*s, 0)).collect();
                for a in &alerts {
                    let sev = str_at(a, &["rule", "security_severity_level"]).unwrap_or("");
                    if let Some(n) = counts.get_mut(sev) {
                        *n += 1;
                    }
                }
                for (sev, n) in counts {
                    obs.fact(&format!("code_scanning.open.{sev}"), n);
                }
                obs.fact("code_scanning.open.total", alerts.len() as i64);
            }
            Err(r) => {
                let why = match refusal(&r, "code scanning alerts", NEED) {
                    Refusal::Forbidden(why) => why,
                    Refusal::Disabled => format!("code scanning alerts: {}", r.message()),
                };
                unobserve_all(obs, &PATHS[2..], &why);
            }
        }
        Ok(())
    }

    async fn secret_scanning(
        &self,
        api: &Api,
        base: &str,
        repo: &Value,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        const NEED: &str = "secret_scanning_alerts:read (fine-grained) or repo / security_events (classic), as a repository admin";
        // `security_and_analysis` is on the repository object for those with admin (or
        // security manager) access; absent otherwise.
        let sa = repo.get("security_and_analysis").filter(|v| v.is_object());
        let status = |key: &str| {
            sa.and_then(|sa| str_at(sa, &[key, "status"]))
                .map(|s| s == "enabled")
        };
        let listed = api
            .get_all(&format!(
                "{base}/secret-scanning/alerts?state=open&hide_secret=true"
            ))
            .await?;
        let (enabled_from_api, open) = match &listed {
            Ok(alerts) => (Some(true), Ok(alerts.len() as i64)),
            Err(r) => match refusal(r, "secret scanning alerts", NEED) {
                Refusal::Disabled => (Some(false), Err(None)),
                Refusal::Forbidden(why) => (None, Err(Some(why))),
            },
        };
        match status("secret_scanning").or(enabled_from_api) {
            Some(e) => {
                obs.fact("secret_scanning.enabled", e);
            }
            None => {
                obs.unobserved(
                    "secret_scanning.enabled",
                    open.clone().err().flatten().unwrap_or_else(|| {
                        "security_and_analysis is not on the repository object: the token needs admin access".into()
                    }),
                );
            }
        }
        match status("secret_scanning_push_protection") {
            Some(p) => {
                obs.fact("secret_scanning.push_protection", p);
            }
            None if enabled_from_api == Some(false) || status("secret_scanning") == Some(false) => {
                // Push protection is part of secret scanning: off with it.
                obs.fact("secret_scanning.push_protection", false);
            }
            None => {
                obs.unobserved(
                    "secret_scanning.push_protection",
                    "security_and_analysis is not on the repository object: reading push \
                     protection needs admin access to the repository (administration:read)",
                );
            }
        }
        match open {
            Ok(n) => {
                obs.fact("secret_scanning.open", n);
            }
            Err(None) => {
                obs.fact("secret_scanning.open", Value::Null);
            }
            Err(Some(why)) => {
                obs.unobserved("secret_scanning.open", why);
            }
        }
        Ok(())
    }

    async fn observe_org(
        &self,
        api: &Api,
        org: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let o = api.get(&format!("orgs/{org}")).await?;
        match o.status {
            200 => {}
            404 => {
                return Err(ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("organisation {org} not found"),
                )
                .with_hint("check the name (a user account is not an organisation)"));
            }
            _ => {
                return Err(o.refused(&format!("orgs/{org}"), "read:org"));
            }
        }
        // These fields are in the answer only for owners (and tokens with admin:org / the
        // organisation administration permission): absent is unobserved, never `false`.
        let owner_only = "shown to organisation owners only: the token needs admin:org read \
                          (classic: read:org as an owner; fine-grained: organization administration read)";
        match o
            .body
            .get("two_factor_requirement_enabled")
            .and_then(Value::as_bool)
        {
            Some(b) => {
                obs.fact("two_factor_required", b);
            }
            None => {
                obs.unobserved("two_factor_required", owner_only);
            }
        }
        match o
            .body
            .get("default_repository_permission")
            .and_then(Value::as_str)
        {
            Some(p) => {
                obs.fact("default_repository_permission", p);
            }
            None => {
                obs.unobserved("default_repository_permission", owner_only);
            }
        }
        let count = |res: Result<Vec<Value>, Response>, what: &str, need: &str| match res {
            Ok(v) => Ok(v.len() as i64),
            Err(r) => Err(format!(
                "GitHub answered {} to {what} (\"{}\"): the token needs {}",
                r.status,
                r.message(),
                r.needed().unwrap_or_else(|| need.to_string())
            )),
        };
        let no2fa = api
            .get_all(&format!("orgs/{org}/members?filter=2fa_disabled"))
            .await?;
        match count(
            no2fa,
            "members without 2FA",
            "read:org as an organisation owner",
        ) {
            Ok(n) => {
                obs.fact("members.without_2fa", n);
            }
            Err(why) => {
                obs.unobserved("members.without_2fa", why);
            }
        }
        let owners = api
            .get_all(&format!("orgs/{org}/members?role=admin"))
            .await?;
        match count(owners, "organisation owners", "read:org") {
            Ok(n) => {
                obs.fact("owners.count", n);
            }
            Err(why) => {
                obs.unobserved("owners.count", why);
            }
        }
        let outside = api
            .get_all(&format!("orgs/{org}/outside_collaborators"))
            .await?;
        match count(
            outside,
            "outside collaborators",
            "read:org as an organisation owner",
        ) {
            Ok(n) => {
                obs.fact("outside_collaborators.count", n);
            }
            Err(why) => {
                obs.unobserved("outside_collaborators.count", why);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Probe for GithubProbe {
    fn kind(&self) -> &'static str {
        "github"
    }
    fn description(&self) -> &'static str {
        "branch protection and rulesets, Dependabot, code and secret scanning of a repository; 2FA and access of an organisation"
    }
    fn target_syntax(&self) -> &'static str {
        "an organisation (acme), a repository (acme/api), or acme/* for every non-archived repository"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn params(&self) -> &'static [FactSpec] {
        PARAMS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        parse_target(target).map(|_| ())
    }
    fn host_key(&self, _target: &str) -> String {
        // One API, one rate limit: GitHub asks integrators not to make many requests at once.
        "github-api".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        target.ends_with("/*")
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        let Some(org) = pattern.strip_suffix("/*") else {
            return Ok(vec![pattern.to_string()]);
        };
        if !valid_owner(org) {
            return Err(ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                format!("`{org}` is not an organisation name"),
            ));
        }
        let api = self.api(ctx)?;
        let repos = match api.get_all(&format!("orgs/{org}/repos?type=all")).await? {
            Ok(r) => r,
            Err(r) => {
                let kind = if r.status == 404 {
                    ProbeErrorKind::NotFound
                } else {
                    ProbeErrorKind::Denied
                };
                return Err(ProbeError::new(
                    kind,
                    format!(
                        "cannot list the repositories of {org}: GitHub answered {} (\"{}\")",
                        r.status,
                        r.message()
                    ),
                )
                .with_hint(format!(
                    "check the organisation's name; the token needs {}",
                    r.needed()
                        .unwrap_or_else(|| "metadata:read on its repositories".into())
                )));
            }
        };
        let mut found = Vec::new();
        let mut archived = Vec::new();
        for r in &repos {
            let Some(name) = r.get("name").and_then(Value::as_str) else {
                continue;
            };
            if r.get("archived").and_then(Value::as_bool).unwrap_or(false) {
                archived.push(format!("{org}/{name}"));
            } else {
                found.push(format!("{org}/{name}"));
            }
        }
        found.sort();
        archived.sort();
        ctx.record_run_info(
            &format!("github.discovery.{org}"),
            json!({"repositories": found.len(), "archived_skipped": archived}),
        );
        Ok(found)
    }

    async fn observe(
        &self,
        target: &str,
        params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let parsed =
            parse_target(target).map_err(|e| ProbeError::new(ProbeErrorKind::InvalidTarget, e))?;
        if matches!(parsed, Target::Repo(_, "*")) {
            return Err(ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                format!("`{target}` is a pattern"),
            )
            .with_hint("name one repository (acme/api); `acme/*` is expanded by `vouch check`"));
        }
        let started = Instant::now();
        let api = self.api(ctx)?;
        let mut obs = Observation::new(self.kind(), target);
        obs.params = params.clone();
        let res = match parsed {
            Target::Org(org) => self.observe_org(&api, org, &mut obs).await,
            Target::Repo(o, r) => self.observe_repo(&api, o, r, params, &mut obs).await,
        };
        res?;
        api.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        let show = |p: &str| -> String {
            match obs.facts.get(p) {
                Some(Value::Null) => "none".into(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) if a.is_empty() => "none".into(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(v) => v.to_string(),
                None => match obs.unobserved.get(p) {
                    Some(why) => format!("not observed: {why}"),
                    None => "-".into(),
                },
            }
        };
        let sev = |prefix: &str| -> String {
            if obs.facts.get(&format!("{prefix}.total")) == Some(&Value::Null) {
                return "none (not enabled)".into();
            }
            let parts: Vec<String> = SEVERITIES
                .iter()
                .map(|s| format!("{} {s}", show(&format!("{prefix}.{s}"))))
                .collect();
            format!(
                "{} ({})",
                show(&format!("{prefix}.total")),
                parts.join(", ")
            )
        };
        let mut out = String::new();
        let row = |out: &mut String, label: &str, value: String| {
            out.push_str(&format!("  {label:<26} {value}\n"));
        };
        if obs.facts.contains_key("repository.default_branch") {
            out.push_str(&format!(
                "github {}  ({}, default branch {}{})\n",
                obs.target,
                show("repository.visibility"),
                show("repository.default_branch"),
                if obs.facts.get("repository.archived") == Some(&Value::Bool(true)) {
                    ", ARCHIVED"
                } else {
                    ""
                }
            ));
            out.push_str("default branch protection\n");
            row(&mut out, "source", show("protection.source"));
            row(
                &mut out,
                "required approvals",
                show("review.required_approvals"),
            );
            row(
                &mut out,
                "stale approvals dismissed",
                show("review.dismiss_stale"),
            );
            row(
                &mut out,
                "code owners must review",
                show("review.code_owners"),
            );
            row(&mut out, "required checks", show("checks.required"));
            row(&mut out, "admins included", show("admins.enforced"));
            row(&mut out, "force push allowed", show("force_push.allowed"));
            row(&mut out, "deletion allowed", show("deletion.allowed"));
            out.push_str("dependabot\n");
            row(
                &mut out,
                "alerts enabled",
                show("dependabot.alerts_enabled"),
            );
            row(&mut out, "open alerts", sev("dependabot.open"));
            row(
                &mut out,
                "oldest open critical",
                show("dependabot.oldest_open_critical_age"),
            );
            row(
                &mut out,
                "oldest open high",
                show("dependabot.oldest_open_high_age"),
            );
            row(
                &mut out,
                "past the patch window",
                format!(
                    "{} critical, {} high",
                    show("dependabot.critical_past_window"),
                    show("dependabot.high_past_window")
                ),
            );
            out.push_str("code scanning\n");
            row(&mut out, "enabled", show("code_scanning.enabled"));
            row(
                &mut out,
                "last analysis (default)",
                show("code_scanning.last_analysis"),
            );
            row(&mut out, "open alerts", sev("code_scanning.open"));
            out.push_str("secret scanning\n");
            row(&mut out, "enabled", show("secret_scanning.enabled"));
            row(
                &mut out,
                "push protection",
                show("secret_scanning.push_protection"),
            );
            row(&mut out, "open alerts", show("secret_scanning.open"));
        } else {
            out.push_str(&format!("github organisation {}\n", obs.target));
            row(&mut out, "2FA required", show("two_factor_required"));
            row(&mut out, "members without 2FA", show("members.without_2fa"));
            row(&mut out, "owners", show("owners.count"));
            row(
                &mut out,
                "base permission",
                show("default_repository_permission"),
            );
            row(
                &mut out,
                "outside collaborators",
                show("outside_collaborators.count"),
            );
        }
        let calls = obs
            .evidence
            .get("api_calls")
            .and_then(Value::as_array)
            .map(|a| a.len())
            .unwrap_or(0);
        out.push_str(&format!(
            "{calls} API calls in {} ms; `--format json` shows each response\n",
            obs.duration_ms
        ));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked() {
        for ok in [
            "acme",
            "acme/api",
            "acme/*",
            "a-b/c.d_e",
            "octo-org/.github",
        ] {
            assert!(parse_target(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "acme/",
            "/api",
            "acme/api/x",
            "ac me",
            "acme/a b",
            "-acme",
            "acme/..",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_names_are_escaped_for_a_path_segment() {
        assert_eq!(seg("release/1.0"), "release%2F1.0");
        assert_eq!(seg("main"), "main");
    }

    fn resp(status: u16, message: &str, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: json!({"message": message}),
            next: None,
        }
    }

    #[test]
    fn disabled_is_told_from_forbidden() {
        // GitHub's answers when the feature is off: a fact (`false`).
        for (s, m) in [
            (403, "Dependabot alerts are disabled for this repository."),
            (404, "Secret scanning is disabled on this repository."),
            (
                403,
                "Advanced Security must be enabled for this repository to use code scanning.",
            ),
            (404, "no analysis found"),
        ] {
            assert!(
                matches!(refusal(&resp(s, m, &[]), "x", "y"), Refusal::Disabled),
                "{m}"
            );
        }
        // The token's: unobserved, naming what it needs from GitHub's headers.
        let r = resp(
            403,
            "Resource not accessible by personal access token",
            &[("x-accepted-github-permissions", "vulnerability_alerts=read")],
        );
        match refusal(&r, "Dependabot alerts", "default") {
            Refusal::Forbidden(why) => {
                assert!(why.contains("vulnerability_alerts=read"), "{why}")
            }
            Refusal::Disabled => panic!("a missing permission read as disabled"),
        }
    }
}
