//! `aws.dynamodb`: one DynamoDB table's point-in-time recovery (on or off, the latest
//! restorable time and how far it lags now, the recovery period) and its encryption at rest
//! (which kind of key), plus discovery of every table in the scanned regions (`*`, every page; `[aws] regions`, default every region enabled for the account).
//!
//! DynamoDB always encrypts tables; what differs is the key. A table whose DescribeTable has no
//! `SSEDescription` uses an AWS-owned key, observed as `encryption.type = "AWS_OWNED"`; `"KMS"`
//! means an AWS-managed or customer-managed KMS key, named by `encryption.kms_key_arn`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PointInTimeRecoveryStatus, SseStatus};
use serde_json::{Value, json};

use super::common::{Arn, Col, col, lag, plain_name, render_table, time_col, walk_pages};
use super::{ApiCalls, Aws, Session, regional_target, timestamp, unobserved};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

crate::service_client!(aws_sdk_dynamodb, "dynamodb");

const SERVICE: &str = "dynamodb";

/// Tables per ListTables page (the API's maximum).
pub(super) const PAGE_SIZE: i32 = 100;

const FACTS: &[FactSpec] = &[
    fact(
        "table.status",
        FactType::String,
        "CREATING, UPDATING, DELETING, ACTIVE, ARCHIVED, …",
    ),
    fact(
        "pitr.enabled",
        FactType::Bool,
        "point-in-time recovery (continuous backups) is on",
    ),
    fact(
        "pitr.latest_restorable_time",
        FactType::Timestamp,
        "the latest time the table can be restored to; null when PITR is off",
    ),
    fact(
        "pitr.lag",
        FactType::Duration,
        "how far the latest restorable time is behind now (a control says `within \"15m\"`); null when PITR is off",
    ),
    fact(
        "pitr.recovery_period_days",
        FactType::Integer,
        "days of continuous backups kept (1–35); null when PITR is off",
    ),
    fact(
        "encryption.type",
        FactType::String,
        "AWS_OWNED (DynamoDB's default key) or KMS (an AWS-managed or customer-managed KMS key)",
    ),
    fact(
        "encryption.kms_key_arn",
        FactType::String,
        "the KMS key of a KMS-encrypted table; null for an AWS-owned key",
    ),
];

const PITR: [&str; 4] = [
    "pitr.enabled",
    "pitr.latest_restorable_time",
    "pitr.lag",
    "pitr.recovery_period_days",
];

/// The `aws.dynamodb` probe.
pub struct DynamoDbProbe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl DynamoDbProbe {
    pub fn new(aws: Arc<Aws>) -> DynamoDbProbe {
        DynamoDbProbe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> DynamoDbProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }
}

/// Every table name of `region`, from every page of ListTables: the one lister of tables
/// (`aws.dynamodb` discovery and `aws.backup`'s `coverage:*`).
pub(super) async fn table_names(
    session: &Session,
    ddb: &Client,
    calls: &ApiCalls,
    region: &str,
    page_size: i32,
) -> Result<Vec<String>, ProbeError> {
    let mut names = Vec::new();
    walk_pages(
        "dynamodb:ListTables",
        |start| {
            session.call(calls, SERVICE, "ListTables", region, move |c| {
                ddb.list_tables()
                    .limit(page_size)
                    .set_exclusive_start_table_name(start.clone())
                    .customize()
                    .interceptor(c)
                    .send()
            })
        },
        |page| {
            names.extend(page.table_names().iter().cloned());
            page.last_evaluated_table_name
        },
    )
    .await?;
    Ok(names)
}

#[async_trait]
impl Probe for DynamoDbProbe {
    fn kind(&self) -> &'static str {
        "aws.dynamodb"
    }
    fn description(&self) -> &'static str {
        "a DynamoDB table's point-in-time recovery (on/off, latest restorable time, lag, period) and encryption key type"
    }
    fn target_syntax(&self) -> &'static str {
        "a table name or table ARN, or `*` for every table in the scanned regions"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        let ok = plain_name(target)
            && match Arn::parse(target) {
                Some(arn) => arn.service == "dynamodb" && arn.resource.starts_with("table/"),
                None => !target.starts_with("arn:"),
            };
        if ok {
            Ok(())
        } else {
            Err(
                "a table name, a table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME), or `*`"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:dynamodb".into()
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
                let ddb: Client = session.client(Some(&region));
                let calls = ApiCalls::default();
                // ListTables gives names only: the table's ARN outside the home region is built
                // from the caller's account.
                let mut names: Vec<String> =
                    table_names(session, &ddb, &calls, &region, self.page_size)
                        .await?
                        .iter()
                        .map(|name| {
                            regional_target(session, &region, name, || {
                                session.arn("dynamodb", &region, &format!("table/{name}"))
                            })
                        })
                        .collect();
                names.sort();
                names.dedup();
                // Where the population came from, for the report's run section.
                ctx.record_run_info(
                    &format!("aws.dynamodb.discovery.{region}"),
                    json!({"tables": names.len(), "api_calls": calls.into_summaries()}),
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
        self.check_target(target)
            .and_then(|()| match target {
                "*" => Err(super::common::PATTERN.to_string()),
                _ => Ok(()),
            })
            .map_err(|e| ProbeError::new(ProbeErrorKind::InvalidTarget, e))?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let region = Arn::parse(target)
            .and_then(|a| a.region())
            .unwrap_or(session.region())
            .to_string();
        let ddb: Client = session.client(Some(&region));
        let calls = ApiCalls::default();
        // DynamoDB takes a table ARN as the name; one without an account (discovery could not
        // learn it) is asked by its bare name in its region.
        let table_name = match Arn::parse(target) {
            Some(arn) if arn.account.is_empty() => {
                arn.resource.strip_prefix("table/").unwrap_or(target)
            }
            _ => target,
        };

        // The call that says whether the table exists: its failure is the observation's.
        let described = session
            .call(&calls, SERVICE, "DescribeTable", &region, |c| {
                ddb.describe_table()
                    .table_name(table_name)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|mut e| {
                if e.kind == ProbeErrorKind::NotFound {
                    e.message = format!("no DynamoDB table `{target}` in {region} ({})", e.message);
                }
                e
            })?;
        let table = described.table().ok_or_else(|| {
            ProbeError::new(ProbeErrorKind::Protocol, "DescribeTable returned no Table")
        })?;
        let name = table.table_name().unwrap_or(target).to_string();

        let mut obs = Observation::new(self.kind(), target);
        obs.fact(
            "table.status",
            table.table_status().map(|s| s.as_str().to_string()),
        );
        match table.sse_description() {
            Some(sse)
                if !matches!(
                    sse.status(),
                    Some(SseStatus::Disabled | SseStatus::Disabling)
                ) =>
            {
                obs.fact(
                    "encryption.type",
                    sse.sse_type().map_or("KMS", |t| t.as_str()),
                );
                obs.fact("encryption.kms_key_arn", sse.kms_master_key_arn());
            }
            // No SSEDescription (or SSE switched off): DynamoDB's default, an AWS-owned key.
            _ => {
                obs.fact("encryption.type", "AWS_OWNED");
                obs.fact("encryption.kms_key_arn", Value::Null);
            }
        }

        let backups = session
            .call(&calls, SERVICE, "DescribeContinuousBackups", &region, |c| {
                ddb.describe_continuous_backups()
                    .table_name(&name)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await;
        match backups {
            Ok(out) => {
                let pitr = out
                    .continuous_backups_description()
                    .and_then(|d| d.point_in_time_recovery_description());
                let enabled = pitr.and_then(|p| p.point_in_time_recovery_status())
                    == Some(&PointInTimeRecoveryStatus::Enabled);
                obs.fact("pitr.enabled", enabled);
                if !enabled {
                    for f in &PITR[1..] {
                        obs.fact(f, Value::Null);
                    }
                } else {
                    match pitr
                        .and_then(|p| p.latest_restorable_date_time())
                        .and_then(timestamp)
                    {
                        Some(t) => {
                            obs.fact("pitr.latest_restorable_time", t.to_string());
                            obs.fact("pitr.lag", lag(t));
                        }
                        // On, yet nothing restorable yet (just enabled): an observed absence.
                        None => {
                            obs.fact("pitr.latest_restorable_time", Value::Null);
                            obs.fact("pitr.lag", Value::Null);
                        }
                    }
                    match pitr.and_then(|p| p.recovery_period_in_days()) {
                        Some(days) => {
                            obs.fact("pitr.recovery_period_days", days);
                        }
                        None => {
                            obs.unobserved(
                                "pitr.recovery_period_days",
                                "DescribeContinuousBackups reported PITR on but no RecoveryPeriodInDays",
                            );
                        }
                    }
                }
            }
            Err(e) => unobserved(&mut obs, &PITR, &e),
        }

        obs.evidence(
            "table",
            json!({"name": name, "arn": table.table_arn(), "region": region}),
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
        Some(render_table(observations, "table", COLUMNS))
    }
}

/// The spot-check table's columns.
const COLUMNS: &[Col] = &[
    col("status", "table.status"),
    col("PITR", "pitr.enabled"),
    col("lag", "pitr.lag"),
    time_col("latest restorable", "pitr.latest_restorable_time"),
    col("period (d)", "pitr.recovery_period_days"),
    col("encryption", "encryption.type"),
    col("KMS key", "encryption.kms_key_arn"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_names_table_arns_or_star() {
        let p = DynamoDbProbe::new(Aws::new());
        assert!(p.check_target("*").is_ok());
        assert!(p.check_target("orders").is_ok());
        assert!(
            p.check_target("arn:aws:dynamodb:eu-west-1:111122223333:table/orders")
                .is_ok()
        );
        assert!(
            p.check_target("arn:aws:rds:eu-west-1:111122223333:db:orders")
                .is_err()
        );
        assert!(p.check_target("ord*").is_err());
        assert!(p.check_target("").is_err());
    }
}
