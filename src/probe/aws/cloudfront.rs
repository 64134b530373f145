//! `aws.cloudfront`: how a CloudFront distribution talks to viewers and to its origins. Viewer
//! side: the protocol policy of every cache behaviour (`allow-all` serves plain HTTP), the
//! minimum TLS version of the viewer certificate's security policy, and whether the default
//! `*.cloudfront.net` certificate is in use (CloudFront then accepts TLS 1.0 whatever the
//! configuration says: a minimum cannot be enforced with it). Origin side: each custom origin's
//! protocol policy and the SSL protocols CloudFront may use to reach it. And the web ACL id.
//! `*` discovers every distribution of the account (ListDistributions, every page).
//!
//! The distribution's configuration is read with [`distribution_config`], the same call
//! `aws.wafv2` makes for a distribution's web ACL. CloudFront is global; its API lives in
//! us-east-1.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{DistributionConfig, MinimumProtocolVersion};
use serde_json::{Value, json};

use super::common::{Col, arn_resource, arn_service, col, plain_target, render_table, walk_pages};
use super::{ApiCalls, Aws, Session};
use crate::expect::Protocol;
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

crate::service_client!(aws_sdk_cloudfront, "cloudfront");

const SERVICE: &str = "cloudfront";

/// CloudFront (and its web ACLs) answer in us-east-1, whatever the home region.
pub(super) const CLOUDFRONT_REGION: &str = "us-east-1";

/// Distributions per ListDistributions page (the API's maximum is 1,000).
const PAGE_SIZE: i32 = 1000;

const FACTS: &[FactSpec] = &[
    fact(
        "enabled",
        FactType::Bool,
        "the distribution serves requests",
    ),
    fact(
        "viewer.protocol_policies",
        FactType::StringList,
        "the viewer protocol policies of its cache behaviours, default included (allow-all, redirect-to-https, https-only)",
    ),
    fact(
        "viewer.allows_plain_http",
        FactType::Bool,
        "some cache behaviour is allow-all: content is served over plain HTTP",
    ),
    fact(
        "viewer.minimum_protocol_version",
        FactType::String,
        "the viewer certificate's security policy (TLSv1.2_2021, …) as configured",
    ),
    fact(
        "viewer.lowest_protocol",
        FactType::Protocol,
        "the lowest TLS version viewers may use: the security policy's, or TLSv1.0 with the default certificate (which cannot enforce a minimum)",
    ),
    fact(
        "viewer.default_certificate",
        FactType::Bool,
        "the default *.cloudfront.net certificate is in use",
    ),
    fact(
        "origins.protocol_policies",
        FactType::StringList,
        "the protocol policies of its custom origins (http-only, match-viewer, https-only)",
    ),
    fact(
        "origins.plain_http",
        FactType::Bool,
        "CloudFront may reach some origin over plain HTTP: a custom origin http-only, or match-viewer (or an S3 bucket origin) behind an allow-all behaviour",
    ),
    fact(
        "origins.lowest_ssl_protocol",
        FactType::Protocol,
        "the lowest SSL/TLS version CloudFront may use towards a custom origin over HTTPS; null when none uses HTTPS",
    ),
    fact(
        "web_acl.id",
        FactType::String,
        "the web ACL's id (a WAFv2 ARN or a WAF Classic id); null when none",
    ),
];

/// The configuration of distribution `id` (GetDistributionConfig): what `aws.cloudfront`
/// reads for transport and `aws.wafv2` for the web ACL. An unknown id is `NotFound`.
pub(super) async fn distribution_config(
    session: &Session,
    calls: &ApiCalls,
    id: &str,
) -> Result<DistributionConfig, ProbeError> {
    let cf: aws_sdk_cloudfront::Client = session.client(Some(CLOUDFRONT_REGION));
    session
        .call_optional(
            calls,
            SERVICE,
            "GetDistributionConfig",
            CLOUDFRONT_REGION,
            &["NoSuchDistribution"],
            |c| {
                cf.get_distribution_config()
                    .id(id)
                    .customize()
                    .interceptor(c)
                    .send()
            },
        )
        .await?
        .ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::NotFound,
                format!("no CloudFront distribution `{id}`"),
            )
            .with_hint("check the distribution id (aws cloudfront list-distributions)")
        })?
        .distribution_config
        .ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::Protocol,
                format!("GetDistributionConfig of `{id}` answered without a DistributionConfig"),
            )
        })
}

/// A distribution id (`E2QWRUHAPOMQZL`) from an id or a distribution ARN.
pub(super) fn distribution_id(target: &str) -> Option<&str> {
    if !plain_target(target) || target.contains('*') {
        return None;
    }
    if target.starts_with("arn:") {
        return (arn_service(target)? == "cloudfront")
            .then(|| arn_resource(target)?.strip_prefix("distribution/"))
            .flatten()
            .filter(|id| !id.is_empty() && !id.contains('/'));
    }
    let ok = (8..=32).contains(&target.len())
        && target
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then_some(target)
}

/// The lowest version a viewer security policy allows (`TLSv1.2_2021` → TLSv1.2).
fn policy_lowest(p: &MinimumProtocolVersion) -> Option<Protocol> {
    let name = p.as_str();
    if name == "SSLv3" {
        return Some(Protocol::SslV3);
    }
    let version = name.split('_').next()?;
    match version {
        "TLSv1" => Some(Protocol::TlsV1_0),
        other => Protocol::parse(other),
    }
}

/// An origin SSL protocol name (`TLSv1` is TLS 1.0).
fn origin_protocol(name: &str) -> Option<Protocol> {
    match name {
        "SSLv3" => Some(Protocol::SslV3),
        "TLSv1" => Some(Protocol::TlsV1_0),
        other => Protocol::parse(other),
    }
}

/// Records the facts of one distribution's configuration.
fn record(obs: &mut Observation, config: &DistributionConfig) {
    obs.fact("enabled", config.enabled());
    let mut behaviours = Vec::new();
    if let Some(d) = config.default_cache_behavior() {
        behaviours.push((
            "*".to_string(),
            d.viewer_protocol_policy().as_str().to_string(),
        ));
    }
    if let Some(list) = config.cache_behaviors() {
        for b in list.items() {
            behaviours.push((
                b.path_pattern().to_string(),
                b.viewer_protocol_policy().as_str().to_string(),
            ));
        }
    }
    let mut policies: Vec<&str> = behaviours.iter().map(|(_, p)| p.as_str()).collect();
    policies.sort();
    policies.dedup();
    let plain = policies.contains(&"allow-all");
    obs.fact("viewer.protocol_policies", json!(policies));
    obs.fact("viewer.allows_plain_http", plain);

    let cert = config.viewer_certificate();
    // Without a viewer certificate block CloudFront uses its default certificate.
    let default_cert = cert.is_none_or(|c| {
        c.cloud_front_default_certificate() == Some(true)
            || (c.acm_certificate_arn().is_none_or(str::is_empty)
                && c.iam_certificate_id().is_none_or(str::is_empty))
    });
    obs.fact("viewer.default_certificate", default_cert);
    let min = cert.and_then(|c| c.minimum_protocol_version());
    obs.fact(
        "viewer.minimum_protocol_version",
        min.map(|m| m.as_str().to_string()),
    );
    if default_cert {
        obs.fact("viewer.lowest_protocol", Protocol::TlsV1_0.as_str());
    } else {
        match min.map(|m| (m, policy_lowest(m))) {
            Some((_, Some(p))) => {
                obs.fact("viewer.lowest_protocol", p.as_str());
            }
            Some((m, None)) => {
                obs.unobserved(
                    "viewer.lowest_protocol",
                    format!("unknown security policy `{}`", m.as_str()),
                );
            }
            None => {
                obs.unobserved(
                    "viewer.lowest_protocol",
                    "the viewer certificate names no minimum protocol version",
                );
            }
        }
    }

    let mut origin_policies = Vec::new();
    let mut origin_plain = false;
    let mut lowest: Option<Protocol> = None;
    let mut unknown = Vec::new();
    let mut origins = Vec::new();
    for o in config.origins().map(|o| o.items()).unwrap_or_default() {
        let Some(custom) = o.custom_origin_config() else {
            // CloudFront reaches an S3 bucket origin with the protocol the viewer used.
            let s3 = o.s3_origin_config().is_some();
            if s3 && plain {
                origin_plain = true;
            }
            origins.push(json!({"id": o.id(), "domain_name": o.domain_name(),
                "kind": if s3 { "s3" } else if o.vpc_origin_config().is_some() { "vpc" } else { "other" }}));
            continue;
        };
        let policy = custom.origin_protocol_policy().as_str();
        origin_policies.push(policy.to_string());
        if policy == "http-only" || (policy == "match-viewer" && plain) {
            origin_plain = true;
        }
        let ssl: Vec<&str> = custom
            .origin_ssl_protocols()
            .map(|p| p.items().iter().map(|s| s.as_str()).collect())
            .unwrap_or_default();
        if policy != "http-only" {
            for s in &ssl {
                match origin_protocol(s) {
                    Some(p) => lowest = Some(lowest.map_or(p, |l| l.min(p))),
                    None => unknown.push(s.to_string()),
                }
            }
        }
        origins.push(
            json!({"id": o.id(), "domain_name": o.domain_name(), "kind": "custom",
            "protocol_policy": policy, "ssl_protocols": ssl}),
        );
    }
    origin_policies.sort();
    origin_policies.dedup();
    obs.fact("origins.protocol_policies", json!(origin_policies));
    obs.fact("origins.plain_http", origin_plain);
    if unknown.is_empty() {
        obs.fact("origins.lowest_ssl_protocol", lowest.map(|p| p.as_str()));
    } else {
        obs.unobserved(
            "origins.lowest_ssl_protocol",
            format!("unknown origin SSL protocol(s): {}", unknown.join(", ")),
        );
    }
    obs.fact(
        "web_acl.id",
        config
            .web_acl_id()
            .filter(|a| !a.is_empty())
            .map(str::to_string),
    );
    obs.evidence(
        "behaviours",
        Value::Array(
            behaviours
                .iter()
                .map(|(path, p)| json!({"path_pattern": path, "viewer_protocol_policy": p}))
                .collect(),
        ),
    );
    obs.evidence("origins", Value::Array(origins));
}

/// The `aws.cloudfront` probe.
pub struct CloudFrontProbe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl CloudFrontProbe {
    pub fn new(aws: Arc<Aws>) -> CloudFrontProbe {
        CloudFrontProbe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> CloudFrontProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }
}

#[async_trait]
impl Probe for CloudFrontProbe {
    fn kind(&self) -> &'static str {
        "aws.cloudfront"
    }
    fn description(&self) -> &'static str {
        "a CloudFront distribution's viewer and origin transport: protocol policies, minimum TLS version, default certificate, web ACL"
    }
    fn target_syntax(&self) -> &'static str {
        "a CloudFront distribution id or ARN, or `*` for every distribution"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || distribution_id(target).is_some() {
            Ok(())
        } else {
            Err(
                "a distribution id (E2QWRUHAPOMQZL: upper-case letters and digits), a \
                 distribution ARN (arn:aws:cloudfront::ACCOUNT:distribution/ID), or `*`"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:cloudfront".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let cf: aws_sdk_cloudfront::Client = session.client(Some(CLOUDFRONT_REGION));
        let cf = &cf;
        let calls = ApiCalls::default();
        let mut ids = Vec::new();
        walk_pages(
            "cloudfront:ListDistributions",
            |marker| {
                session.call(
                    &calls,
                    SERVICE,
                    "ListDistributions",
                    CLOUDFRONT_REGION,
                    move |c| {
                        cf.list_distributions()
                            .max_items(self.page_size)
                            .set_marker(marker.clone())
                            .customize()
                            .interceptor(c)
                            .send()
                    },
                )
            },
            |page| {
                let list = page.distribution_list?;
                ids.extend(list.items().iter().map(|d| d.id().to_string()));
                // NextMarker is only meaningful while the list is truncated.
                list.is_truncated()
                    .then(|| list.next_marker().map(str::to_string))
                    .flatten()
            },
        )
        .await?;
        ids.sort();
        ids.dedup();
        ctx.record_run_info(
            "aws.cloudfront.discovery",
            json!({"distributions": ids.len(), "api_calls": calls.into_summaries()}),
        );
        Ok(ids)
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let id = distribution_id(target).ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                match target {
                    "*" => super::common::PATTERN.to_string(),
                    _ => self.check_target(target).err().unwrap_or_default(),
                },
            )
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let calls = ApiCalls::default();
        let config = distribution_config(&session, &calls, id).await?;
        let mut obs = Observation::new(self.kind(), target);
        record(&mut obs, &config);
        obs.evidence("distribution_id", id);
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        Some(render_table(observations, "distribution", COLUMNS))
    }
}

/// The spot-check table's columns.
const COLUMNS: &[Col] = &[
    col("viewer policies", "viewer.protocol_policies"),
    col("plain HTTP", "viewer.allows_plain_http"),
    col("min version", "viewer.minimum_protocol_version"),
    col("lowest TLS", "viewer.lowest_protocol"),
    col("default cert", "viewer.default_certificate"),
    col("origin policies", "origins.protocol_policies"),
    col("origin lowest", "origins.lowest_ssl_protocol"),
    col("web ACL", "web_acl.id"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_distribution_ids_or_arns() {
        assert_eq!(distribution_id("E2QWRUHAPOMQZL"), Some("E2QWRUHAPOMQZL"));
        assert_eq!(
            distribution_id("arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"),
            Some("E2QWRUHAPOMQZL")
        );
        for bad in ["*", "e2qwru", "", "arn:aws:s3:::b", "E2QW*"] {
            assert_eq!(distribution_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_s3_origin_behind_an_allow_all_behaviour_is_reached_over_plain_http() {
        use aws_sdk_cloudfront::types::{
            DefaultCacheBehavior, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
        };
        let config = |viewer: ViewerProtocolPolicy| {
            DistributionConfig::builder()
                .caller_reference("r")
                .comment("")
                .enabled(true)
                .origins(
                    Origins::builder()
                        .quantity(1)
                        .items(
                            Origin::builder()
                                .id("s3")
                                .domain_name("bucket.s3.eu-west-1.amazonaws.com")
                                .s3_origin_config(
                                    S3OriginConfig::builder().origin_access_identity("").build(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .default_cache_behavior(
                    DefaultCacheBehavior::builder()
                        .target_origin_id("s3")
                        .viewer_protocol_policy(viewer)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        let mut open = Observation::new("aws.cloudfront", "E1");
        record(&mut open, &config(ViewerProtocolPolicy::AllowAll));
        assert_eq!(open.facts["origins.plain_http"], json!(true));
        // No viewer certificate block: the default certificate, TLS 1.0.
        assert_eq!(open.facts["viewer.default_certificate"], json!(true));
        assert_eq!(open.facts["viewer.lowest_protocol"], json!("TLSv1.0"));
        let mut closed = Observation::new("aws.cloudfront", "E1");
        record(&mut closed, &config(ViewerProtocolPolicy::HttpsOnly));
        assert_eq!(closed.facts["origins.plain_http"], json!(false));
        assert_eq!(closed.facts["origins.lowest_ssl_protocol"], Value::Null);
    }

    #[test]
    fn viewer_security_policies_order_like_the_tls_probe() {
        let p = |s: &str| policy_lowest(&MinimumProtocolVersion::from(s));
        assert_eq!(p("TLSv1"), Some(Protocol::TlsV1_0));
        assert_eq!(p("TLSv1_2016"), Some(Protocol::TlsV1_0));
        assert_eq!(p("TLSv1.1_2016"), Some(Protocol::TlsV1_1));
        assert_eq!(p("TLSv1.2_2021"), Some(Protocol::TlsV1_2));
        assert_eq!(p("TLSv1.3_2025"), Some(Protocol::TlsV1_3));
        assert_eq!(p("SSLv3"), Some(Protocol::SslV3));
        assert_eq!(p("QUICv1_2030"), None);
    }
}
