//! `aws.secretsmanager`: one secret's rotation (on or off, when it last rotated and how many
//! days ago, the schedule) and the KMS key that encrypts it, plus discovery of every secret in
//! the scanned regions (`*`, every page of ListSecrets; `[aws] regions`, default the home
//! region). The secret's value is never read: DescribeSecret returns metadata only.
//!
//! `rotation.age_days` counts from the last rotation, or from the secret's creation when it
//! has never rotated (its value is then at least that old unless someone changed it by hand,
//! which Secrets Manager does not distinguish from any other metadata change), against the
//! run's clock like every other age fact.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use serde_json::{Value, json};

use super::common::{Arn, Col, col, plain_name, render_table, time_col, walk_pages};
use super::{ApiCalls, Aws, age_days, regional_target, timestamp};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

crate::service_client!(aws_sdk_secretsmanager, "secretsmanager");

const SERVICE: &str = "secretsmanager";

/// Secrets per ListSecrets page (the API's maximum).
const PAGE_SIZE: i32 = 100;

const FACTS: &[FactSpec] = &[
    fact(
        "rotation.enabled",
        FactType::Bool,
        "automatic rotation is configured (a rotation Lambda or a managed rotation)",
    ),
    fact(
        "rotation.last_rotated",
        FactType::Timestamp,
        "when the secret last rotated; null when it never has",
    ),
    fact(
        "rotation.age_days",
        FactType::Integer,
        "whole days since the last rotation, or since creation when it never rotated",
    ),
    fact(
        "rotation.interval_days",
        FactType::Integer,
        "the schedule's AutomaticallyAfterDays; null when rotation is off or scheduled by an expression only",
    ),
    fact(
        "rotation.next_rotation",
        FactType::Timestamp,
        "when the next scheduled rotation is due; null when none is scheduled",
    ),
    fact(
        "kms_key_id",
        FactType::String,
        "the KMS key encrypting the secret; null means the AWS-managed key aws/secretsmanager",
    ),
    fact(
        "deleted",
        FactType::Bool,
        "the secret is scheduled for deletion",
    ),
];

fn parse_target(target: &str) -> Option<(&str, Option<&str>)> {
    if !plain_name(target) || target == "*" {
        return None;
    }
    match Arn::parse(target) {
        Some(arn) => (arn.service == "secretsmanager"
            && arn.region().is_some()
            && arn
                .resource
                .strip_prefix("secret:")
                .is_some_and(|n| !n.is_empty()))
        .then_some((target, arn.region())),
        None if target.starts_with("arn:") => None,
        // A secret name: letters, digits and /_+=.@- (up to 512).
        None => (target.len() <= 512
            && target
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)))
        .then_some((target, None)),
    }
}

/// The `aws.secretsmanager` probe.
pub struct SecretsManagerProbe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl SecretsManagerProbe {
    pub fn new(aws: Arc<Aws>) -> SecretsManagerProbe {
        SecretsManagerProbe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> SecretsManagerProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }
}

#[async_trait]
impl Probe for SecretsManagerProbe {
    fn kind(&self) -> &'static str {
        "aws.secretsmanager"
    }
    fn description(&self) -> &'static str {
        "a Secrets Manager secret's rotation (on/off, last rotated, age, schedule) and KMS key"
    }
    fn target_syntax(&self) -> &'static str {
        "a secret name or ARN, or `*` for every secret in the scanned regions"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || parse_target(target).is_some() {
            Ok(())
        } else {
            Err("a secret name (prod/db-password), a secret ARN \
                 (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf), or `*`"
                .into())
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:secretsmanager".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let session = &session;
        session
            .per_region(ctx, |region| async move {
                let sm: Client = session.client(Some(&region));
                let sm = &sm;
                let calls = ApiCalls::default();
                let mut names = Vec::new();
                walk_pages(
                    "secretsmanager:ListSecrets",
                    |token| {
                        session.call(&calls, SERVICE, "ListSecrets", &region, move |c| {
                            sm.list_secrets()
                                .max_results(self.page_size)
                                .set_next_token(token.clone())
                                .customize()
                                .interceptor(c)
                                .send()
                        })
                    },
                    |page| {
                        names.extend(page.secret_list().iter().filter_map(|s| {
                            let name = s.name()?;
                            // A name that is not a plain target (it should not happen) is named
                            // by its ARN, which always is.
                            let arn = || {
                                s.arn().map(str::to_string).unwrap_or_else(|| {
                                    session.arn(SERVICE, &region, &format!("secret:{name}"))
                                })
                            };
                            Some(if parse_target(name).is_some() {
                                regional_target(session, &region, name, arn)
                            } else {
                                arn()
                            })
                        }));
                        page.next_token
                    },
                )
                .await?;
                names.sort();
                names.dedup();
                ctx.record_run_info(
                    &format!("aws.secretsmanager.discovery.{region}"),
                    json!({"secrets": names.len(), "api_calls": calls.into_summaries()}),
                );
                Ok(names)
            })
            .await
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let (id, region) = parse_target(target).ok_or_else(|| {
            super::common::invalid_target(target == "*", self.check_target(target))
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let region = region.unwrap_or(session.region()).to_string();
        let sm: Client = session.client(Some(&region));
        let calls = ApiCalls::default();
        let s = session
            .call(&calls, SERVICE, "DescribeSecret", &region, |c| {
                sm.describe_secret()
                    .secret_id(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|mut e| {
                if e.kind == ProbeErrorKind::NotFound {
                    e.message = format!("no secret `{id}` in {region} ({})", e.message);
                }
                e
            })?;
        let mut obs = Observation::new(self.kind(), target);
        let enabled = s.rotation_enabled().unwrap_or(false);
        obs.fact("rotation.enabled", enabled);
        let last = s.last_rotated_date().and_then(timestamp);
        let created = s.created_date().and_then(timestamp);
        obs.fact("rotation.last_rotated", last.map(|t| t.to_string()));
        match last.or(created) {
            Some(t) => obs.fact("rotation.age_days", age_days(t)),
            None => obs.unobserved(
                "rotation.age_days",
                "DescribeSecret gave neither LastRotatedDate nor CreatedDate",
            ),
        };
        obs.fact(
            "rotation.interval_days",
            s.rotation_rules()
                .filter(|_| enabled)
                .and_then(|r| r.automatically_after_days()),
        );
        obs.fact(
            "rotation.next_rotation",
            s.next_rotation_date()
                .filter(|_| enabled)
                .and_then(timestamp)
                .map(|t| t.to_string()),
        );
        obs.fact(
            "kms_key_id",
            s.kms_key_id()
                .filter(|k| !k.is_empty())
                .map_or(Value::Null, |k| json!(k)),
        );
        obs.fact("deleted", s.deleted_date().is_some());
        obs.evidence(
            "secret",
            json!({
                "name": s.name(),
                "arn": s.arn(),
                "created": created.map(|t| t.to_string()),
                "last_changed": s.last_changed_date().and_then(timestamp).map(|t| t.to_string()),
                "rotation_lambda": s.rotation_lambda_arn(),
                "schedule_expression": s.rotation_rules().and_then(|r| r.schedule_expression()),
                "owning_service": s.owning_service(),
            }),
        );
        obs.evidence("region", region.as_str());
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        Some(render_table(observations, "secret", COLUMNS))
    }
}

const COLUMNS: &[Col] = &[
    col("rotation", "rotation.enabled"),
    time_col("last rotated", "rotation.last_rotated"),
    col("age (d)", "rotation.age_days"),
    col("every (d)", "rotation.interval_days"),
    col("KMS key", "kms_key_id"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_names_arns_or_star() {
        assert_eq!(
            parse_target("prod/db-password"),
            Some(("prod/db-password", None))
        );
        let arn = "arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db-AbCdEf";
        assert_eq!(parse_target(arn), Some((arn, Some("us-west-2"))));
        for bad in ["", "*", "a b", "arn:aws:kms:us-west-2:1:key/x", "x#y"] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
        assert!(
            SecretsManagerProbe::new(Aws::new())
                .check_target("*")
                .is_ok()
        );
    }
}
