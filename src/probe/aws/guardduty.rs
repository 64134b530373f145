//! `aws.guardduty`: whether GuardDuty watches a region (a detector exists and is enabled), how
//! often it publishes findings, and which of its protection features are on; target a region,
//! or `*` for every region enabled in the account (EC2 DescribeRegions: enabled by default or
//! opted in), so that a region nobody looks at shows up as one without a detector. A region
//! without a detector is an observed `false`, not an error.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::types::{Condition, DetectorStatus, FeatureStatus, FindingCriteria};
use serde_json::{Value, json};

use super::common::{render_rows, walk_pages};
use super::{ApiCalls, Aws};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "guardduty";

crate::service_client!(aws_sdk_guardduty, "guardduty");
crate::service_client!(aws_sdk_eventbridge, "events");

const FACTS: &[FactSpec] = &[
    fact(
        "detector.enabled",
        FactType::Bool,
        "a GuardDuty detector exists in the region and is ENABLED",
    ),
    fact(
        "detector.finding_publishing_frequency",
        FactType::String,
        "FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS; null without a detector",
    ),
    fact(
        "detector.id",
        FactType::String,
        "the region's detector id; null without a detector",
    ),
    fact(
        "detector.status",
        FactType::String,
        "ENABLED or DISABLED; null without a detector",
    ),
    fact(
        "detector.features_enabled",
        FactType::StringList,
        "protection features that are on (S3_DATA_EVENTS, EKS_AUDIT_LOGS, RUNTIME_MONITORING, …)",
    ),
    fact(
        "findings.high_open",
        FactType::Integer,
        "unarchived findings of severity 7 or more (high and critical) in the region's detector; null without a detector",
    ),
    fact(
        "findings.routed",
        FactType::Bool,
        "an ENABLED EventBridge rule on the region's default bus matches source aws.guardduty and has at least one target",
    ),
];

/// The enabled rules of the region's default event bus whose pattern matches GuardDuty's events
/// (`source` lists `aws.guardduty`) and that deliver to at least one target, as `name → targets`.
async fn routing(
    session: &super::Session,
    calls: &ApiCalls,
    region: &str,
) -> Result<Vec<Value>, ProbeError> {
    let eb: aws_sdk_eventbridge::Client = session.client(Some(region));
    let eb = &eb;
    let mut matching = Vec::new();
    walk_pages(
        "events:ListRules",
        |token| {
            session.call(calls, "events", "ListRules", region, move |c| {
                eb.list_rules()
                    .set_next_token(token.clone())
                    .customize()
                    .interceptor(c)
                    .send()
            })
        },
        |page| {
            matching.extend(
                page.rules()
                    .iter()
                    .filter(|r| r.state() == Some(&aws_sdk_eventbridge::types::RuleState::Enabled))
                    .filter(|r| r.event_pattern().is_some_and(matches_guardduty))
                    .filter_map(|r| r.name().map(str::to_string)),
            );
            page.next_token
        },
    )
    .await?;
    let mut routed = Vec::new();
    for name in matching {
        let mut targets = Vec::new();
        let name = &name;
        walk_pages(
            "events:ListTargetsByRule",
            |token| {
                session.call(calls, "events", "ListTargetsByRule", region, move |c| {
                    eb.list_targets_by_rule()
                        .rule(name)
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                targets.extend(page.targets().iter().map(|t| t.arn().to_string()));
                page.next_token
            },
        )
        .await?;
        if !targets.is_empty() {
            routed.push(json!({"rule": name, "targets": targets}));
        }
    }
    Ok(routed)
}

/// An event pattern whose `source` lists `aws.guardduty` exactly (a pattern without `source`
/// is not counted: it does not name GuardDuty's findings).
pub fn matches_guardduty(pattern: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(pattern) else {
        return false;
    };
    match &v["source"] {
        Value::Array(a) => a.iter().any(|s| s == "aws.guardduty"),
        Value::String(s) => s == "aws.guardduty",
        _ => false,
    }
}

/// GuardDuty's high band starts at 7.0 (7.0–8.9 high, 9.0–10.0 critical).
const HIGH_SEVERITY: i64 = 7;

/// The `aws.guardduty` probe.
pub struct GuardDutyProbe {
    aws: Arc<Aws>,
}

impl GuardDutyProbe {
    pub fn new(aws: Arc<Aws>) -> GuardDutyProbe {
        GuardDutyProbe { aws }
    }
}

use crate::inventory::is_region;

#[async_trait]
impl Probe for GuardDutyProbe {
    fn kind(&self) -> &'static str {
        "aws.guardduty"
    }
    fn description(&self) -> &'static str {
        "whether GuardDuty is enabled in a region, its finding frequency and features"
    }
    fn target_syntax(&self) -> &'static str {
        "a region (eu-west-1), or `*` for every region enabled in the account"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || is_region(target) {
            Ok(())
        } else {
            Err("a region name such as eu-west-1, or `*`".into())
        }
    }
    fn host_key(&self, target: &str) -> String {
        format!("aws:guardduty:{target}")
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let regions = session.scan_regions(ctx).await?;
        ctx.record_run_info("aws.guardduty.discovery", json!({"regions": regions}));
        Ok(regions)
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        if target == "*" || !is_region(target) {
            return Err(ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                format!("`{target}` is not a region"),
            )
            .with_hint(
                "name a region (eu-west-1); `*` is expanded into every enabled region by \
                 `vouch check`",
            ));
        }
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let gd: Client = session.client(Some(target));
        let calls = ApiCalls::default();

        let mut ids = Vec::new();
        let gd = &gd;
        walk_pages(
            "guardduty:ListDetectors",
            |token| {
                session.call(&calls, SERVICE, "ListDetectors", target, move |c| {
                    gd.list_detectors()
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                ids.extend(page.detector_ids().iter().cloned());
                page.next_token
            },
        )
        .await?;

        let mut obs = Observation::new(self.kind(), target);
        // GuardDuty allows one detector per account and region.
        match ids.first() {
            None => {
                obs.fact("detector.enabled", false);
                for p in [
                    "detector.finding_publishing_frequency",
                    "detector.id",
                    "detector.status",
                ] {
                    obs.fact(p, Value::Null);
                }
                obs.fact("detector.features_enabled", json!([]));
                obs.fact("findings.high_open", Value::Null);
            }
            Some(id) => {
                let d = session
                    .call(&calls, SERVICE, "GetDetector", target, |c| {
                        gd.get_detector()
                            .detector_id(id)
                            .customize()
                            .interceptor(c)
                            .send()
                    })
                    .await?;
                obs.fact("detector.id", id.as_str());
                obs.fact(
                    "detector.status",
                    json!(d.status().map(|s| s.as_str().to_string())),
                );
                obs.fact(
                    "detector.enabled",
                    d.status() == Some(&DetectorStatus::Enabled),
                );
                obs.fact(
                    "detector.finding_publishing_frequency",
                    json!(
                        d.finding_publishing_frequency()
                            .map(|f| f.as_str().to_string())
                    ),
                );
                let mut features: Vec<String> = d
                    .features()
                    .iter()
                    .filter(|f| f.status() == Some(&FeatureStatus::Enabled))
                    .filter_map(|f| f.name().map(|n| n.as_str().to_string()))
                    .collect();
                features.sort();
                obs.fact("detector.features_enabled", json!(features));

                // Every page of ListFindings: unarchived, severity >= 7.
                let mut criterion = std::collections::HashMap::new();
                criterion.insert(
                    "severity".to_string(),
                    Condition::builder()
                        .greater_than_or_equal(HIGH_SEVERITY)
                        .build(),
                );
                criterion.insert(
                    "service.archived".to_string(),
                    Condition::builder().equals("false").build(),
                );
                let criteria = FindingCriteria::builder()
                    .set_criterion(Some(criterion))
                    .build();
                let mut high = 0usize;
                let criteria = &criteria;
                let listed = walk_pages(
                    "guardduty:ListFindings",
                    |token| {
                        session.call(&calls, SERVICE, "ListFindings", target, move |c| {
                            gd.list_findings()
                                .detector_id(id)
                                .finding_criteria(criteria.clone())
                                .max_results(50)
                                .set_next_token(token.clone())
                                .customize()
                                .interceptor(c)
                                .send()
                        })
                    },
                    |page| {
                        high += page.finding_ids().len();
                        page.next_token.filter(|t| !t.is_empty())
                    },
                )
                .await;
                match listed {
                    Ok(()) => {
                        obs.fact("findings.high_open", high);
                    }
                    Err(e) => {
                        obs.unobserved("findings.high_open", e.to_string());
                    }
                }
            }
        }
        match routing(&session, &calls, target).await {
            Ok(rules) => {
                obs.fact("findings.routed", !rules.is_empty());
                obs.evidence("finding_rules", json!(rules));
            }
            Err(e) => {
                obs.unobserved("findings.routed", e.to_string());
            }
        }
        obs.evidence("region", target);
        obs.evidence("detectors_listed", json!(ids));
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        Some(render_rows(
            observations,
            "region",
            &[
                ("enabled", "detector.enabled"),
                ("status", "detector.status"),
                ("findings every", "detector.finding_publishing_frequency"),
                ("features on", "detector.features_enabled"),
                ("detector", "detector.id"),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_recognised() {
        for r in [
            "eu-west-1",
            "us-gov-west-1",
            "ap-southeast-4",
            "il-central-1",
        ] {
            assert!(is_region(r), "{r}");
        }
        for r in ["*x", "eu-west", "EU-WEST-1", "eu west 1", "", "account"] {
            assert!(!is_region(r), "{r}");
        }
    }
}
