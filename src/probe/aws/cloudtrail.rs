//! `aws.cloudtrail`: one CloudTrail trail as it really runs — multi-region or not, logging or
//! stopped, log-file validation, KMS encryption, which management events its (basic or
//! advanced) selectors capture, where it delivers and when it last delivered — plus discovery
//! of every trail of the account (`*`, every page of ListTrails). An account with no trail is
//! an empty population, which a control with `min_population = 1` turns into a failure: this
//! module reports what exists and does not decide what is enough.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{AdvancedEventSelector, EventSelector, ReadWriteType};
use serde_json::json;

use super::common::{Arn, arn_region, plain_target, render_rows, walk_pages};
use super::{ApiCalls, Aws, timestamp, unobserved};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "cloudtrail";

crate::service_client!(aws_sdk_cloudtrail, "cloudtrail");

const FACTS: &[FactSpec] = &[
    fact("trail.name", FactType::String, "the trail's name"),
    fact("trail.arn", FactType::String, "the trail's ARN"),
    fact(
        "trail.home_region",
        FactType::String,
        "the region the trail was created in",
    ),
    fact(
        "trail.multi_region",
        FactType::Bool,
        "the trail records events of every region",
    ),
    fact(
        "trail.organization",
        FactType::Bool,
        "an organization trail (records every member account)",
    ),
    fact(
        "trail.logging",
        FactType::Bool,
        "the trail is logging now (GetTrailStatus IsLogging)",
    ),
    fact(
        "trail.log_file_validation",
        FactType::Bool,
        "log-file integrity validation (signed digest files) is on",
    ),
    fact(
        "trail.kms_key_id",
        FactType::String,
        "the KMS key encrypting delivered logs; null when SSE-S3 only",
    ),
    fact(
        "trail.management_events",
        FactType::Bool,
        "both read and write management events are captured (basic or advanced selectors)",
    ),
    fact(
        "trail.management_events_scope",
        FactType::String,
        "management events captured: All, ReadOnly, WriteOnly or None",
    ),
    fact(
        "trail.management_events_excluded",
        FactType::StringList,
        "management event sources (or other filters) the selectors exclude, e.g. kms.amazonaws.com",
    ),
    fact(
        "trail.latest_delivery",
        FactType::Timestamp,
        "when log files were last delivered to S3; null when never",
    ),
    fact(
        "trail.latest_delivery_error",
        FactType::String,
        "the last S3 delivery error; null when none",
    ),
    fact(
        "trail.s3_bucket",
        FactType::String,
        "the S3 bucket receiving the log files",
    ),
];

const STATUS_FACTS: [&str; 3] = [
    "trail.logging",
    "trail.latest_delivery",
    "trail.latest_delivery_error",
];
const SELECTOR_FACTS: [&str; 3] = [
    "trail.management_events",
    "trail.management_events_scope",
    "trail.management_events_excluded",
];

/// The `aws.cloudtrail` probe.
pub struct CloudTrailProbe {
    aws: Arc<Aws>,
}

impl CloudTrailProbe {
    pub fn new(aws: Arc<Aws>) -> CloudTrailProbe {
        CloudTrailProbe { aws }
    }
}

#[async_trait]
impl Probe for CloudTrailProbe {
    fn kind(&self) -> &'static str {
        "aws.cloudtrail"
    }
    fn description(&self) -> &'static str {
        "a CloudTrail trail: multi-region, logging, validation, encryption, management events, delivery"
    }
    fn target_syntax(&self) -> &'static str {
        "a trail name or trail ARN, or `*` for every trail of the account"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if plain_target(target) && (target == "*" || !target.contains('*')) {
            Ok(())
        } else {
            Err(
                "a trail name, a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME) or `*`"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:cloudtrail".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let ct: Client = session.client(None);
        let calls = ApiCalls::default();
        let mut arns = Vec::new();
        let ct = &ct;
        walk_pages(
            "cloudtrail:ListTrails",
            |token| {
                session.call(&calls, SERVICE, "ListTrails", session.region(), move |c| {
                    ct.list_trails()
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                // ListTrails answers for every region of the account, each trail once.
                arns.extend(
                    page.trails()
                        .iter()
                        .filter_map(|t| t.trail_arn().or(t.name()).map(str::to_string)),
                );
                page.next_token
            },
        )
        .await?;
        arns.sort();
        arns.dedup();
        ctx.record_run_info(
            "aws.cloudtrail.discovery",
            json!({"trails": arns.len(), "api_calls": calls.into_summaries()}),
        );
        Ok(arns)
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        self.check_target(target).map_err(|e| {
            ProbeError::new(ProbeErrorKind::InvalidTarget, e.clone())
                .with_hint(format!("expected {}", self.target_syntax()))
        })?;
        if target == "*" {
            return Err(ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                "`*` is a pattern: it is expanded into trails by `vouch check`",
            )
            .with_hint("name one trail (name or ARN) to spot-check it"));
        }
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        // A trail ARN names its home region, where its status and selectors are answered.
        let region = arn_region(target).unwrap_or(session.region()).to_string();
        let ct: Client = session.client(Some(&region));
        let calls = ApiCalls::default();

        // An organization trail seen from a member account carries the management account's
        // ARN: GetTrail answers only for the account's own trails, so its configuration is read
        // from DescribeTrails' shadow-trail data instead.
        let owner = Arn::parse(target).map(|a| a.account.to_string());
        let me = session.identity().map(|i| i.account.clone());
        let foreign = match (&owner, &me) {
            (Some(o), Some(m)) => o != m,
            _ => false,
        };
        let trail = if foreign {
            let got = session
                .call(&calls, SERVICE, "DescribeTrails", &region, |c| {
                    ct.describe_trails()
                        .trail_name_list(target)
                        .include_shadow_trails(true)
                        .customize()
                        .interceptor(c)
                        .send()
                })
                .await?;
            got.trail_list()
                .iter()
                .find(|t| t.trail_arn() == Some(target))
                .cloned()
                .ok_or_else(|| {
                    ProbeError::new(
                        ProbeErrorKind::NotFound,
                        format!(
                            "DescribeTrails (with shadow trails) in {region} does not list `{target}`"
                        ),
                    )
                    .with_hint("`*` lists the trails this account can see")
                })?
        } else {
            let got = session
                .call(&calls, SERVICE, "GetTrail", &region, |c| {
                    ct.get_trail()
                        .name(target)
                        .customize()
                        .interceptor(c)
                        .send()
                })
                .await
                .map_err(|mut e| {
                    if e.kind == ProbeErrorKind::NotFound {
                        e.message =
                            format!("no CloudTrail trail `{target}` in {region} ({})", e.message);
                    }
                    e
                })?;
            got.trail().cloned().ok_or_else(|| {
                ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("GetTrail returned no trail for `{target}` in {region}"),
                )
                .with_hint("`*` lists the trails that exist")
            })?
        };
        let trail = &trail;
        let id = trail
            .trail_arn()
            .or(trail.name())
            .unwrap_or(target)
            .to_string();

        let mut obs = Observation::new(self.kind(), target);
        obs.fact("trail.name", json!(trail.name()));
        obs.fact("trail.arn", json!(trail.trail_arn()));
        obs.fact("trail.home_region", json!(trail.home_region()));
        obs.fact(
            "trail.multi_region",
            trail.is_multi_region_trail().unwrap_or(false),
        );
        obs.fact(
            "trail.organization",
            trail.is_organization_trail().unwrap_or(false),
        );
        obs.fact(
            "trail.log_file_validation",
            trail.log_file_validation_enabled().unwrap_or(false),
        );
        obs.fact(
            "trail.kms_key_id",
            json!(trail.kms_key_id().filter(|k| !k.is_empty())),
        );
        obs.fact(
            "trail.s3_bucket",
            json!(trail.s3_bucket_name().filter(|b| !b.is_empty())),
        );

        let status = session.call(&calls, SERVICE, "GetTrailStatus", &region, |c| {
            ct.get_trail_status()
                .name(&id)
                .customize()
                .interceptor(c)
                .send()
        });
        let selectors = session.call(&calls, SERVICE, "GetEventSelectors", &region, |c| {
            ct.get_event_selectors()
                .trail_name(&id)
                .customize()
                .interceptor(c)
                .send()
        });
        let (status, selectors) = tokio::join!(status, selectors);

        match status {
            Ok(s) => {
                match s.is_logging() {
                    Some(on) => obs.fact("trail.logging", on),
                    None => obs.unobserved("trail.logging", "GetTrailStatus gave no IsLogging"),
                };
                obs.fact(
                    "trail.latest_delivery",
                    json!(
                        s.latest_delivery_time()
                            .and_then(timestamp)
                            .map(|t| t.to_string())
                    ),
                );
                obs.fact(
                    "trail.latest_delivery_error",
                    json!(s.latest_delivery_error().filter(|e| !e.is_empty())),
                );
            }
            Err(e) => refused(
                &mut obs,
                &STATUS_FACTS,
                &e,
                foreign.then_some(owner.as_deref()).flatten(),
            ),
        }
        match selectors {
            Ok(s) => {
                let m = management_events(s.event_selectors(), s.advanced_event_selectors());
                obs.fact("trail.management_events", m.read && m.write);
                obs.fact("trail.management_events_scope", m.scope());
                obs.fact("trail.management_events_excluded", json!(m.excluded));
                obs.evidence("selectors", json!({
                    "kind": if s.advanced_event_selectors().is_empty() { "basic" } else { "advanced" },
                    "partial_selectors": m.partial,
                }));
            }
            Err(e) => refused(
                &mut obs,
                &SELECTOR_FACTS,
                &e,
                foreign.then_some(owner.as_deref()).flatten(),
            ),
        }

        obs.evidence("region", region.as_str());
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        if foreign {
            obs.evidence(
                "read_from",
                json!({"call": "DescribeTrails", "include_shadow_trails": true, "owner_account": owner}),
            );
        }
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
            "trail",
            &[
                ("multi-region", "trail.multi_region"),
                ("logging", "trail.logging"),
                ("validation", "trail.log_file_validation"),
                ("KMS key", "trail.kms_key_id"),
                ("management events", "trail.management_events_scope"),
                ("excluded", "trail.management_events_excluded"),
                ("last delivery", "trail.latest_delivery"),
                ("delivery error", "trail.latest_delivery_error"),
                ("bucket", "trail.s3_bucket"),
            ],
        ))
    }
}

/// Marks facts unobserved because the call that feeds them failed; for a trail owned by another
/// account (an organization trail seen from a member account) the reason says so: only the
/// owner account answers its status and selectors, and the facts stay unobserved (fail closed).
fn refused(obs: &mut Observation, paths: &[&str], e: &ProbeError, owner: Option<&str>) {
    match owner {
        None => unobserved(obs, paths, e),
        Some(owner) => {
            for p in paths {
                obs.unobserved(
                    p,
                    format!(
                        "a trail of account {owner} (an organization trail seen from a member \
                         account): only its owner account answers this ({e})"
                    ),
                );
            }
        }
    }
}

/// Which management events a trail's selectors capture.
#[derive(Debug, Default, PartialEq)]
pub struct ManagementEvents {
    pub read: bool,
    pub write: bool,
    /// Event sources (or other filters, as `field!=value`) excluded from management events.
    pub excluded: Vec<String>,
    /// Advanced selectors that capture management events of some sources only (as text); they
    /// count towards neither read nor write, because they do not cover every privileged action.
    pub partial: Vec<String>,
}

impl ManagementEvents {
    pub fn scope(&self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "All",
            (true, false) => "ReadOnly",
            (false, true) => "WriteOnly",
            (false, false) => "None",
        }
    }
}

/// Reads basic or advanced event selectors (a trail has one kind or the other).
pub fn management_events(
    basic: &[EventSelector],
    advanced: &[AdvancedEventSelector],
) -> ManagementEvents {
    let mut m = ManagementEvents::default();
    for s in basic {
        // IncludeManagementEvents defaults to true, ReadWriteType to All.
        if s.include_management_events() == Some(false) {
            continue;
        }
        match s.read_write_type().unwrap_or(&ReadWriteType::All) {
            ReadWriteType::ReadOnly => m.read = true,
            ReadWriteType::WriteOnly => m.write = true,
            _ => {
                m.read = true;
                m.write = true;
            }
        }
        m.excluded
            .extend(s.exclude_management_event_sources().iter().cloned());
    }
    for s in advanced {
        let fields = s.field_selectors();
        let is_management = fields
            .iter()
            .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"));
        if !is_management {
            continue;
        }
        let (mut read, mut write) = (true, true);
        let mut partial = Vec::new();
        for f in fields {
            match f.field() {
                "eventCategory" => {}
                "readOnly" => {
                    let says = |vals: &[String], v: &str| vals.iter().any(|x| x == v);
                    if !f.equals().is_empty() {
                        read = says(f.equals(), "true");
                        write = says(f.equals(), "false");
                    }
                    if says(f.not_equals(), "true") {
                        read = false;
                    }
                    if says(f.not_equals(), "false") {
                        write = false;
                    }
                }
                field => {
                    for (op, vals) in [
                        ("=", f.equals()),
                        (" starts with ", f.starts_with()),
                        (" ends with ", f.ends_with()),
                    ] {
                        partial.extend(vals.iter().map(|v| format!("{field}{op}{v}")));
                    }
                    for (op, vals) in [
                        ("!=", f.not_equals()),
                        (" not starts with ", f.not_starts_with()),
                        (" not ends with ", f.not_ends_with()),
                    ] {
                        for v in vals {
                            m.excluded.push(if field == "eventSource" && op == "!=" {
                                v.clone()
                            } else {
                                format!("{field}{op}{v}")
                            });
                        }
                    }
                }
            }
        }
        if partial.is_empty() {
            m.read |= read;
            m.write |= write;
        } else {
            let name = s.name().unwrap_or("(unnamed)");
            m.partial.push(format!("{name}: {}", partial.join(", ")));
        }
    }
    m.excluded.sort();
    m.excluded.dedup();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::types::AdvancedFieldSelector;

    fn field(name: &str, eq: &[&str], ne: &[&str]) -> AdvancedFieldSelector {
        let mut b = AdvancedFieldSelector::builder().field(name);
        for v in eq {
            b = b.equals(*v);
        }
        for v in ne {
            b = b.not_equals(*v);
        }
        b.build().unwrap()
    }

    fn adv(fields: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
        AdvancedEventSelector::builder()
            .name("s")
            .set_field_selectors(Some(fields))
            .build()
            .unwrap()
    }

    #[test]
    fn default_basic_selector_captures_all_management_events() {
        let m = management_events(
            &[EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .build()],
            &[],
        );
        assert_eq!((m.read, m.write, m.scope()), (true, true, "All"));
    }

    #[test]
    fn basic_write_only_and_exclusions_are_reported() {
        let m = management_events(
            &[EventSelector::builder()
                .read_write_type(ReadWriteType::WriteOnly)
                .exclude_management_event_sources("kms.amazonaws.com")
                .build()],
            &[],
        );
        assert_eq!(m.scope(), "WriteOnly");
        assert_eq!(m.excluded, vec!["kms.amazonaws.com"]);
        let none = management_events(
            &[EventSelector::builder()
                .include_management_events(false)
                .build()],
            &[],
        );
        assert_eq!(none.scope(), "None");
    }

    #[test]
    fn advanced_selectors_read_the_read_only_field() {
        let both = management_events(
            &[],
            &[adv(vec![field("eventCategory", &["Management"], &[])])],
        );
        assert_eq!(both.scope(), "All");
        let write = management_events(
            &[],
            &[adv(vec![
                field("eventCategory", &["Management"], &[]),
                field("readOnly", &["false"], &[]),
            ])],
        );
        assert_eq!(write.scope(), "WriteOnly");
        // Two selectors, one read and one write: together they capture everything.
        let split = management_events(
            &[],
            &[
                adv(vec![
                    field("eventCategory", &["Management"], &[]),
                    field("readOnly", &["true"], &[]),
                ]),
                adv(vec![
                    field("eventCategory", &["Management"], &[]),
                    field("readOnly", &[], &["true"]),
                ]),
            ],
        );
        assert_eq!(split.scope(), "All");
    }

    #[test]
    fn advanced_source_filters_are_exclusions_or_partial() {
        let m = management_events(
            &[],
            &[adv(vec![
                field("eventCategory", &["Management"], &[]),
                field("eventSource", &[], &["kms.amazonaws.com"]),
            ])],
        );
        assert_eq!(
            (m.scope(), m.excluded.clone()),
            ("All", vec!["kms.amazonaws.com".into()])
        );
        let partial = management_events(
            &[],
            &[adv(vec![
                field("eventCategory", &["Management"], &[]),
                field("eventSource", &["iam.amazonaws.com"], &[]),
            ])],
        );
        assert_eq!(partial.scope(), "None");
        assert_eq!(partial.partial, vec!["s: eventSource=iam.amazonaws.com"]);
        // Data-event selectors say nothing about management events.
        let data = management_events(&[], &[adv(vec![field("eventCategory", &["Data"], &[])])]);
        assert_eq!(data.scope(), "None");
    }
}
