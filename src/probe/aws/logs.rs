//! `aws.logs`: one CloudWatch Logs log group's retention (with "never expires" stated
//! explicitly), KMS key and stored bytes, and discovery of every group (`*`) or of the groups
//! under a name prefix (`name*`).
//!
//! Accounts hold hundreds of thousands of log groups, and DescribeLogGroups already carries
//! every fact of every group it lists. So discovery keeps what each page said (the group's
//! record and the page's request id) and the observation of a discovered group reads that
//! record instead of asking again: a `*` scan costs one call per 50 groups, never one per
//! group. A group named directly (not discovered) costs one call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use serde_json::{Map, Value, json};

use super::common::{arn_region, arn_resource, plain_target, render_rows, walk_pages};
use super::{ApiCalls, Aws, Session, regional_target};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "logs";

crate::service_client!(aws_sdk_cloudwatchlogs, "logs");

/// Groups per DescribeLogGroups page (the API's maximum).
const PAGE_SIZE: i32 = 50;

/// How long a record seen during discovery stands in for a fresh call.
const CACHE_TTL: Duration = Duration::from_secs(600);

const FACTS: &[FactSpec] = &[
    fact(
        "retention_days",
        FactType::Integer,
        "days events are kept; null when the group never expires",
    ),
    fact(
        "retention.never_expires",
        FactType::Bool,
        "no retention setting: events are kept forever",
    ),
    fact(
        "kms_key_id",
        FactType::String,
        "the KMS key ARN encrypting the group; null when CloudWatch's own encryption",
    ),
    fact(
        "stored_bytes",
        FactType::Integer,
        "bytes stored in the group (as DescribeLogGroups reports)",
    ),
    fact(
        "log_group_class",
        FactType::String,
        "STANDARD, INFREQUENT_ACCESS or DELIVERY",
    ),
    fact("created", FactType::Timestamp, "when the group was created"),
    fact("arn", FactType::String, "the log group's ARN"),
];

/// What one DescribeLogGroups page said of one group: its record and the call around it.
#[derive(Debug)]
struct Seen {
    at: Instant,
    group: GroupFacts,
    /// The page's call record with `response.logGroups` cut down to this group.
    evidence: Value,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct GroupFacts {
    name: String,
    arn: Option<String>,
    retention_days: Option<i32>,
    kms_key_id: Option<String>,
    stored_bytes: Option<i64>,
    class: Option<String>,
    created_ms: Option<i64>,
}

impl GroupFacts {
    fn of(g: &LogGroup) -> GroupFacts {
        GroupFacts {
            name: g.log_group_name().unwrap_or_default().to_string(),
            arn: g
                .log_group_arn()
                .or(g.arn())
                .map(|a| a.trim_end_matches(":*").to_string()),
            retention_days: g.retention_in_days(),
            kms_key_id: g.kms_key_id().filter(|k| !k.is_empty()).map(str::to_string),
            stored_bytes: g.stored_bytes(),
            class: g.log_group_class().map(|c| c.as_str().to_string()),
            created_ms: g.creation_time(),
        }
    }
}

type CacheKey = (usize, String, String);

/// The `aws.logs` probe.
pub struct LogsProbe {
    aws: Arc<Aws>,
    page_size: i32,
    /// (session, region, group name) → what discovery saw.
    seen: Mutex<HashMap<CacheKey, Arc<Seen>>>,
}

impl LogsProbe {
    pub fn new(aws: Arc<Aws>) -> LogsProbe {
        LogsProbe {
            aws,
            page_size: PAGE_SIZE,
            seen: Mutex::default(),
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> LogsProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }

    fn key(session: &Arc<Session>, region: &str, name: &str) -> CacheKey {
        (
            Arc::as_ptr(session) as usize,
            region.to_string(),
            name.to_string(),
        )
    }

    /// One DescribeLogGroups page: the groups and, for each, its own slice of the evidence;
    /// the next token; and the call's record without its body (run-level provenance).
    async fn page(
        &self,
        session: &Session,
        logs: &Client,
        region: &str,
        prefix: Option<&str>,
        token: Option<String>,
    ) -> Result<(Vec<(GroupFacts, Value)>, Option<String>, Value), ProbeError> {
        let calls = ApiCalls::default();
        let out = session
            .call(&calls, SERVICE, "DescribeLogGroups", region, |c| {
                logs.describe_log_groups()
                    .set_log_group_name_prefix(prefix.map(str::to_string))
                    .limit(self.page_size)
                    .set_next_token(token)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await?;
        // The recorded call (request id, time, body as JSON) is cut per group below.
        let mut scratch = Observation::new("", "");
        calls.into_evidence(&mut scratch);
        let record = scratch
            .evidence
            .get("api_calls")
            .and_then(|c| c.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let bodies: Vec<Value> = record
            .pointer("/response/logGroups")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let groups = out
            .log_groups()
            .iter()
            .map(|g| {
                let facts = GroupFacts::of(g);
                let body = bodies
                    .iter()
                    .find(|b| {
                        b.get("logGroupName").and_then(Value::as_str) == Some(facts.name.as_str())
                    })
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut ev = record.clone();
                if let Some(obj) = ev.as_object_mut() {
                    obj.insert("response".into(), json!({"logGroups": [body]}));
                    obj.insert("excerpt".into(), json!("this group's entry of the page"));
                }
                (facts, ev)
            })
            .collect();
        let next = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let mut summary = record;
        if let Some(obj) = summary.as_object_mut() {
            obj.remove("response");
        }
        Ok((groups, next, summary))
    }
}

/// `(region, name)` of a target: a name in the home region, or a log-group ARN.
fn locate<'a>(target: &'a str, home: &'a str) -> (&'a str, &'a str) {
    match (
        arn_region(target),
        arn_resource(target).and_then(|r| r.strip_prefix("log-group:")),
    ) {
        (Some(region), Some(name)) => (region, name.strip_suffix(":*").unwrap_or(name)),
        _ => (home, target),
    }
}

fn is_arn(t: &str) -> bool {
    t.starts_with("arn:")
}

#[async_trait]
impl Probe for LogsProbe {
    fn kind(&self) -> &'static str {
        "aws.logs"
    }
    fn description(&self) -> &'static str {
        "a CloudWatch Logs log group's retention, KMS key and stored bytes"
    }
    fn target_syntax(&self) -> &'static str {
        "a log group name or ARN, a name prefix `name*`, or `*` for every log group of the scanned regions"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        let body = if is_arn(target) {
            target.strip_suffix(":*").unwrap_or(target)
        } else {
            target.strip_suffix('*').unwrap_or(target)
        };
        if plain_target(target) && !body.contains('*') {
            Ok(())
        } else {
            Err(
                "a log group name, a log-group ARN, `prefix*` or `*` (a `*` only at the end)"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:logs".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        !is_arn(target) && target.ends_with('*')
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if !self.is_pattern(pattern) {
            return Ok(vec![pattern.to_string()]);
        }
        let prefix = pattern.trim_end_matches('*');
        let prefix = (!prefix.is_empty()).then_some(prefix);
        let session = self.aws.session(ctx).await?;
        let session = &session;
        session
            .per_region(ctx, |region| async move {
                let logs: Client = session.client(Some(&region));
                let mut found = Vec::new();
                let mut pages = Vec::new();
                let logs = &logs;
                walk_pages(
                    "logs:DescribeLogGroups",
                    |token| self.page(session, logs, &region, prefix, token),
                    |(groups, next, summary)| {
                        pages.push(summary);
                        let mut seen = self.seen.lock().expect("logs cache lock");
                        for (group, evidence) in groups {
                            // The name in the home region; the group's ARN elsewhere.
                            found.push(regional_target(session, &region, &group.name, || {
                                group.arn.clone().unwrap_or_else(|| {
                                    session.arn(
                                        "logs",
                                        &region,
                                        &format!("log-group:{}", group.name),
                                    )
                                })
                            }));
                            seen.insert(
                                Self::key(session, &region, &group.name),
                                Arc::new(Seen {
                                    at: Instant::now(),
                                    group,
                                    evidence,
                                }),
                            );
                        }
                        next
                    },
                )
                .await?;
                found.sort();
                found.dedup();
                ctx.record_run_info(
                    &format!("aws.logs.discovery.{region}.{pattern}"),
                    json!({"log_groups": found.len(), "api_calls": pages}),
                );
                Ok(found)
            })
            .await
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        self.check_target(target).map_err(|e| {
            ProbeError::new(ProbeErrorKind::InvalidTarget, e)
                .with_hint(format!("expected {}", self.target_syntax()))
        })?;
        if self.is_pattern(target) {
            return Err(ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                format!("`{target}` is a pattern: `vouch check` expands it into log groups"),
            )
            .with_hint("name one log group to spot-check it"));
        }
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let (region, name) = locate(target, session.region());
        let (region, name) = (region.to_string(), name.to_string());
        let key = Self::key(&session, &region, &name);
        let cached = self
            .seen
            .lock()
            .expect("logs cache lock")
            .get(&key)
            .filter(|s| s.at.elapsed() < CACHE_TTL)
            .cloned();
        let (group, evidence, from_discovery) = match cached {
            Some(seen) => (seen.group.clone(), seen.evidence.clone(), true),
            None => {
                let logs: Client = session.client(Some(&region));
                // Names are listed in ASCII order, so the exact name is first among its prefix.
                let (groups, _, _) = self
                    .page(&session, &logs, &region, Some(&name), None)
                    .await?;
                let (group, evidence) = groups
                    .into_iter()
                    .find(|(g, _)| g.name == name)
                    .ok_or_else(|| {
                        ProbeError::new(
                            ProbeErrorKind::NotFound,
                            format!("no log group `{name}` in {region}"),
                        )
                        .with_hint(
                            "check the name and the region ([aws] region / --aws-region); `*` \
                             or `prefix*` lists what exists",
                        )
                    })?;
                (group, evidence, false)
            }
        };

        let mut obs = Observation::new(self.kind(), target);
        obs.fact("retention_days", json!(group.retention_days));
        obs.fact("retention.never_expires", group.retention_days.is_none());
        obs.fact("kms_key_id", json!(group.kms_key_id));
        match group.stored_bytes {
            Some(b) => obs.fact("stored_bytes", b),
            None => obs.unobserved("stored_bytes", "DescribeLogGroups gave no storedBytes"),
        };
        obs.fact("log_group_class", json!(group.class));
        obs.fact(
            "created",
            json!(
                group
                    .created_ms
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_string())
            ),
        );
        obs.fact("arn", json!(group.arn));

        let mut source = Map::new();
        source.insert(
            "from".into(),
            json!(if from_discovery {
                "the DescribeLogGroups page read during discovery"
            } else {
                "DescribeLogGroups with this name as prefix"
            }),
        );
        obs.evidence("source", Value::Object(source));
        obs.evidence("log_group", json!(group.name));
        obs.evidence("region", region.as_str());
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        obs.evidence("api_calls", json!([evidence]));
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        Some(render_rows(
            observations,
            "log group",
            &[
                ("retention (d)", "retention_days"),
                ("never expires", "retention.never_expires"),
                ("KMS key", "kms_key_id"),
                ("stored bytes", "stored_bytes"),
                ("class", "log_group_class"),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_locate_by_name_or_arn() {
        assert_eq!(
            locate("/aws/lambda/x", "eu-west-1"),
            ("eu-west-1", "/aws/lambda/x")
        );
        assert_eq!(
            locate(
                "arn:aws:logs:us-east-2:123456789012:log-group:/a/b:*",
                "eu-west-1"
            ),
            ("us-east-2", "/a/b")
        );
    }

    #[test]
    fn patterns_are_prefixes_and_arns_are_not() {
        let p = LogsProbe::new(Aws::new());
        assert!(p.is_pattern("*"));
        assert!(p.is_pattern("/aws/lambda/*"));
        assert!(!p.is_pattern("/aws/lambda/x"));
        assert!(!p.is_pattern("arn:aws:logs:us-east-2:1:log-group:/a:*"));
        assert!(p.check_target("/a*b").is_err());
        assert!(
            p.check_target("arn:aws:logs:us-east-2:1:log-group:/a:*")
                .is_ok()
        );
        assert!(p.check_target("a b").is_err());
    }
}
