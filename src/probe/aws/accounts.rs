//! Many accounts in one run: `[aws] accounts` and `[aws.organization]` made into the list of
//! accounts the AWS probes examine, each through its own role (STS AssumeRole, session name
//! `vouch`, refreshed before expiry by the SDK's `AssumeRoleProvider`).
//!
//! The list is resolved once per run ([`super::Aws::accounts`]); the engine then plans every
//! `*` and `account` target of an `aws.*` control once per account, with a [`ProbeContext`]
//! naming the account ([`ProbeContext::for_account`]), and [`super::Aws::session`] hands out
//! that account's session. An account whose role cannot be assumed fails its own session
//! build, so its results are `error` while the other accounts complete.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType};
use serde::Serialize;
use serde_json::{Value, json};

use super::common::walk_pages;
use super::{ApiCalls, Session};
use crate::inventory::{AwsOrganization, AwsSettings, is_account_id};
use crate::probe::{ProbeContext, ProbeError};

crate::service_client!(aws_sdk_organizations, "organizations");

/// The key of `run.context` that records which accounts were scanned, from where, and which
/// were skipped and why.
pub const CONTEXT_ACCOUNTS: &str = "aws.accounts";

/// One account a multi-account run examines.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct AccountScope {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `organization` or `list` (`[aws] accounts`).
    pub source: &'static str,
    /// The role assumed; `None`: the run's own credentials, which must be for this account.
    pub role_arn: Option<String>,
    #[serde(skip)]
    pub external_id: Option<String>,
    /// This account's `regions` (else `[aws] regions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

/// An account left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedAccount {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reason: String,
}

/// The accounts of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountSet {
    pub scanned: Vec<AccountScope>,
    pub skipped: Vec<SkippedAccount>,
}

impl AccountSet {
    pub fn get(&self, id: &str) -> Option<&AccountScope> {
        self.scanned.iter().find(|a| a.id == id)
    }
}

/// Which account(s) an `aws.*` target is observed in, in a multi-account run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `*`, a pattern, or `account`: once in every scanned account.
    Each,
    /// A 12-digit account id or an ARN naming an account: in that account.
    Named(String),
    /// A plain resource name: with the run's own credentials, as in a one-account run.
    Own,
}

/// Where `target` of an `aws.*` probe is observed (`is_pattern`: the probe says it is one).
pub fn route(target: &str, is_pattern: bool) -> Route {
    if is_pattern || target == "account" {
        return Route::Each;
    }
    if is_account_id(target) {
        return Route::Named(target.to_string());
    }
    match super::common::Arn::parse(target) {
        Some(arn) if is_account_id(arn.account) => Route::Named(arn.account.to_string()),
        _ => Route::Own,
    }
}

/// Whether probe `kind` is an AWS probe (its targets are per account).
pub fn is_aws_kind(kind: &str) -> bool {
    kind.starts_with("aws.")
}

/// `arn:<partition>:iam::<id>:role/<name>`, the partition from the organisation's account ARN
/// when it gave one, else from the home region.
fn role_arn(id: &str, role_name: &str, account_arn: Option<&str>, region: &str) -> String {
    let partition = account_arn
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| super::partition(region));
    format!("arn:{partition}:iam::{id}:role/{role_name}")
}

/// Resolves the inventory's accounts: the organisation's (through `session`, the run's own
/// credentials, which must be the management or a delegated administrator account) merged
/// with the list (a listed account overrides the organisation's entry for it).
pub(super) async fn resolve(
    settings: &AwsSettings,
    session: Option<&Session>,
    ctx: &ProbeContext,
) -> Result<AccountSet, ProbeError> {
    let mut set = AccountSet::default();
    let mut context = serde_json::Map::new();
    if let Some(org) = &settings.organization {
        let session = session.expect("a session when an organisation is listed");
        let (listed, calls) = list_organization(org, session).await?;
        context.insert(
            "organization".into(),
            json!({
                "role_name": org.role_name,
                "include_ous": org.include_ous,
                "exclude_accounts": org.exclude_accounts,
                "listed_by": session.identity().map(|i| i.arn.clone()),
                "api_calls": calls,
            }),
        );
        set = listed;
    }
    for a in &settings.accounts {
        let role = a.role_arn.clone().or_else(|| {
            settings.organization.as_ref().map(|o| {
                let region = settings.region.as_deref().unwrap_or("us-east-1");
                role_arn(&a.id, &o.role_name, None, region)
            })
        });
        let from_org = set.scanned.iter().position(|s| s.id == a.id);
        let org_name = from_org.and_then(|i| set.scanned[i].name.clone());
        let scope = AccountScope {
            id: a.id.clone(),
            name: a.name.clone().or(org_name),
            source: "list",
            role_arn: role,
            external_id: a.external_id.clone().or_else(|| {
                settings
                    .organization
                    .as_ref()
                    .and_then(|o| o.external_id.clone())
            }),
            regions: a.regions.clone(),
        };
        match from_org {
            Some(i) => set.scanned[i] = scope,
            None => {
                set.skipped.retain(|s| s.id != a.id);
                set.scanned.push(scope);
            }
        }
    }
    set.scanned.sort_by(|a, b| a.id.cmp(&b.id));
    set.skipped.sort_by(|a, b| a.id.cmp(&b.id));
    let mut from: Vec<&str> = Vec::new();
    if settings.organization.is_some() {
        from.push("organization");
    }
    if !settings.accounts.is_empty() {
        from.push("list");
    }
    context.insert("from".into(), json!(from));
    context.insert("scanned".into(), json!(set.scanned));
    context.insert("skipped".into(), json!(set.skipped));
    ctx.record_run_info(CONTEXT_ACCOUNTS, Value::Object(context));
    Ok(set)
}

/// Organizations ListAccounts (every page), narrowed to `include_ous` (ListAccountsForParent
/// and ListChildren, at any depth) and `exclude_accounts`; only ACTIVE accounts are scanned.
async fn list_organization(
    org: &AwsOrganization,
    session: &Session,
) -> Result<(AccountSet, Value), ProbeError> {
    let client: aws_sdk_organizations::Client = session.client(None);
    let calls = ApiCalls::default();
    let region = session.region().to_string();
    let mut all = Vec::new();
    {
        let client = &client;
        let (calls, region) = (&calls, &region);
        walk_pages(
            "organizations:ListAccounts",
            |token| {
                session.call(calls, "organizations", "ListAccounts", region, move |c| {
                    client
                        .list_accounts()
                        .set_next_token(token)
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                all.extend(page.accounts().iter().cloned());
                page.next_token
            },
        )
        .await?;
    }
    let under: Option<BTreeSet<String>> = if org.include_ous.is_empty() {
        None
    } else {
        Some(accounts_under(&org.include_ous, session, &client, &calls).await?)
    };
    let mut set = AccountSet::default();
    let mut seen = BTreeMap::new();
    for a in all {
        let Some(id) = a.id().map(str::to_string) else {
            continue;
        };
        if seen.insert(id.clone(), ()).is_some() {
            continue;
        }
        let name = a.name().map(str::to_string);
        let state = account_state(&a);
        let skip = |reason: String| SkippedAccount {
            id: id.clone(),
            name: name.clone(),
            reason,
        };
        if org.exclude_accounts.contains(&id) {
            set.skipped.push(skip(
                "excluded by [aws.organization] exclude_accounts".into(),
            ));
        } else if state != "ACTIVE" {
            set.skipped.push(skip(format!(
                "account state is {state}: only ACTIVE accounts are examined"
            )));
        } else if under.as_ref().is_some_and(|u| !u.contains(&id)) {
            set.skipped.push(skip(format!(
                "not under include_ous ({})",
                org.include_ous.join(", ")
            )));
        } else {
            set.scanned.push(AccountScope {
                role_arn: Some(role_arn(&id, &org.role_name, a.arn(), &region)),
                id,
                name,
                source: "organization",
                external_id: org.external_id.clone(),
                regions: None,
            });
        }
    }
    Ok((set, calls.into_summaries()))
}

/// The account's state: `State` (the newer field) when given, else the older `Status`.
#[allow(deprecated)]
fn account_state(a: &aws_sdk_organizations::types::Account) -> String {
    match (a.state(), a.status()) {
        (Some(s), _) if !matches!(s, AccountState::Unknown(_)) => s.as_str().to_string(),
        (_, Some(s)) if !matches!(s, AccountStatus::Unknown(_)) => s.as_str().to_string(),
        (Some(s), _) => s.as_str().to_string(),
        _ => "unknown (the organisation did not say)".to_string(),
    }
}

/// Every account id under the given OUs or roots, at any depth.
async fn accounts_under(
    roots: &[String],
    session: &Session,
    client: &aws_sdk_organizations::Client,
    calls: &ApiCalls,
) -> Result<BTreeSet<String>, ProbeError> {
    let region = session.region().to_string();
    let mut ids = BTreeSet::new();
    let mut queue: Vec<String> = roots.to_vec();
    let mut visited = BTreeSet::new();
    while let Some(parent) = queue.pop() {
        if !visited.insert(parent.clone()) {
            continue;
        }
        let (p, r) = (&parent, &region);
        walk_pages(
            "organizations:ListAccountsForParent",
            |token| {
                session.call(
                    calls,
                    "organizations",
                    "ListAccountsForParent",
                    r,
                    move |c| {
                        client
                            .list_accounts_for_parent()
                            .parent_id(p)
                            .set_next_token(token)
                            .customize()
                            .interceptor(c)
                            .send()
                    },
                )
            },
            |page| {
                ids.extend(
                    page.accounts()
                        .iter()
                        .filter_map(|a| a.id().map(str::to_string)),
                );
                page.next_token
            },
        )
        .await?;
        walk_pages(
            "organizations:ListChildren",
            |token| {
                session.call(calls, "organizations", "ListChildren", r, move |c| {
                    client
                        .list_children()
                        .parent_id(p)
                        .child_type(ChildType::OrganizationalUnit)
                        .set_next_token(token)
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                queue.extend(
                    page.children()
                        .iter()
                        .filter_map(|c| c.id().map(str::to_string)),
                );
                page.next_token
            },
        )
        .await?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_route_to_every_account_one_account_or_the_run_s_own() {
        assert_eq!(route("*", true), Route::Each);
        assert_eq!(route("account", false), Route::Each);
        assert_eq!(
            route("111122223333", false),
            Route::Named("111122223333".into())
        );
        assert_eq!(
            route("arn:aws:kms:eu-west-1:111122223333:key/abc", false),
            Route::Named("111122223333".into())
        );
        assert_eq!(route("arn:aws:s3:::bucket", false), Route::Own);
        assert_eq!(route("my-bucket", false), Route::Own);
    }

    #[test]
    fn role_arns_take_the_partition_of_the_account() {
        assert_eq!(
            role_arn("111122223333", "VouchAudit", None, "eu-west-1"),
            "arn:aws:iam::111122223333:role/VouchAudit"
        );
        assert_eq!(
            role_arn(
                "111122223333",
                "VouchAudit",
                Some("arn:aws-us-gov:organizations::1:account/o-1/111122223333"),
                "us-east-1"
            ),
            "arn:aws-us-gov:iam::111122223333:role/VouchAudit"
        );
    }
}
