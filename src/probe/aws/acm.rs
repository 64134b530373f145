//! `aws.acm`: one ACM certificate's expiry and renewal: `not_after`, `days_remaining` (against
//! the run's clock), `renewal_eligibility`, whether it is `in_use` (and by what), its `type`
//! (`IMPORTED` certificates never renew by themselves; `AMAZON_ISSUED` ones renew when eligible
//! and validated; `PRIVATE` ones come from a private CA), plus discovery of every certificate
//! in the scanned regions (`*`, every page of ListCertificates; `[aws] regions`, default the
//! home region: CloudFront's certificates live in us-east-1, so list it there).
//!
//! ListCertificates returns only RSA-2048 certificates unless asked for other key types; the
//! discovery asks for every key type ACM knows, so an ECDSA or RSA-4096 certificate is never
//! left out of the population.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_acm::Client;
use aws_sdk_acm::types::{Filters, KeyAlgorithm};
use serde_json::{Value, json};

use super::common::{Arn, Col, col, plain_name, render_table, time_col, walk_pages};
use super::{ApiCalls, Aws, timestamp};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

crate::service_client!(aws_sdk_acm, "acm");

const SERVICE: &str = "acm";

/// Certificates per ListCertificates page (the API takes up to 1,000).
const PAGE_SIZE: i32 = 1000;

const FACTS: &[FactSpec] = &[
    fact(
        "type",
        FactType::String,
        "IMPORTED (never renews by itself), AMAZON_ISSUED or PRIVATE",
    ),
    fact(
        "status",
        FactType::String,
        "ISSUED, PENDING_VALIDATION, EXPIRED, REVOKED, FAILED, INACTIVE, VALIDATION_TIMED_OUT",
    ),
    fact(
        "domain_name",
        FactType::String,
        "the certificate's primary domain name",
    ),
    fact(
        "not_after",
        FactType::Timestamp,
        "the end of the certificate's validity; null when it has none yet (not issued)",
    ),
    fact(
        "days_remaining",
        FactType::Integer,
        "whole days from now to not_after (negative once expired); null when not_after is",
    ),
    fact(
        "renewal_eligibility",
        FactType::String,
        "ELIGIBLE or INELIGIBLE for ACM's managed renewal",
    ),
    fact(
        "renewal.status",
        FactType::String,
        "PENDING_AUTO_RENEWAL, PENDING_VALIDATION, SUCCESS or FAILED of the current managed renewal; null when none is under way",
    ),
    fact(
        "in_use",
        FactType::Bool,
        "an AWS resource (load balancer, CloudFront distribution, API Gateway, …) uses the certificate",
    ),
    fact(
        "in_use_by",
        FactType::StringList,
        "the ARNs of the resources using it",
    ),
];

/// Every key type, so ListCertificates' RSA-2048-only default does not hide certificates.
fn every_key_type() -> Vec<KeyAlgorithm> {
    KeyAlgorithm::values()
        .iter()
        .map(|v| KeyAlgorithm::from(*v))
        .collect()
}

fn parse_target(target: &str) -> Option<&str> {
    if !plain_name(target) || target == "*" {
        return None;
    }
    let arn = Arn::parse(target)?;
    (arn.service == "acm"
        && arn.region().is_some()
        && arn
            .resource
            .strip_prefix("certificate/")
            .is_some_and(|id| !id.is_empty()))
    .then_some(arn.region)
}

/// Whole days from now until `t`, rounded down (negative once `t` has passed).
fn days_until(t: jiff::Timestamp) -> i64 {
    (t.as_second() - jiff::Timestamp::now().as_second()).div_euclid(86_400)
}

/// The `aws.acm` probe.
pub struct AcmProbe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl AcmProbe {
    pub fn new(aws: Arc<Aws>) -> AcmProbe {
        AcmProbe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> AcmProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }
}

#[async_trait]
impl Probe for AcmProbe {
    fn kind(&self) -> &'static str {
        "aws.acm"
    }
    fn description(&self) -> &'static str {
        "an ACM certificate's expiry, days remaining, renewal eligibility and status, use and type"
    }
    fn target_syntax(&self) -> &'static str {
        "a certificate ARN, or `*` for every certificate in the scanned regions"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || parse_target(target).is_some() {
            Ok(())
        } else {
            Err("a certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID), or `*`".into())
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:acm".into()
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
                let acm: Client = session.client(Some(&region));
                let acm = &acm;
                let calls = ApiCalls::default();
                let mut arns = Vec::new();
                let includes = Filters::builder()
                    .set_key_types(Some(every_key_type()))
                    .build();
                let includes = &includes;
                walk_pages(
                    "acm:ListCertificates",
                    |token| {
                        session.call(&calls, SERVICE, "ListCertificates", &region, move |c| {
                            acm.list_certificates()
                                .includes(includes.clone())
                                .max_items(self.page_size)
                                .set_next_token(token.clone())
                                .customize()
                                .interceptor(c)
                                .send()
                        })
                    },
                    |page| {
                        arns.extend(
                            page.certificate_summary_list()
                                .iter()
                                .filter_map(|s| s.certificate_arn())
                                .map(str::to_string),
                        );
                        page.next_token
                    },
                )
                .await?;
                arns.sort();
                arns.dedup();
                ctx.record_run_info(
                    &format!("aws.acm.discovery.{region}"),
                    json!({"certificates": arns.len(), "api_calls": calls.into_summaries()}),
                );
                Ok(arns)
            })
            .await
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let region = parse_target(target).ok_or_else(|| {
            super::common::invalid_target(target == "*", self.check_target(target))
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let acm: Client = session.client(Some(region));
        let calls = ApiCalls::default();
        let out = session
            .call(&calls, SERVICE, "DescribeCertificate", region, |c| {
                acm.describe_certificate()
                    .certificate_arn(target)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|mut e| {
                if e.kind == ProbeErrorKind::NotFound {
                    e.message = format!("no ACM certificate `{target}` ({})", e.message);
                }
                e
            })?;
        let cert = out.certificate().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::Protocol,
                "DescribeCertificate returned no Certificate",
            )
        })?;
        let mut obs = Observation::new(self.kind(), target);
        match cert.r#type() {
            Some(t) => obs.fact("type", t.as_str()),
            None => obs.unobserved("type", "DescribeCertificate gave no Type"),
        };
        match cert.status() {
            Some(s) => obs.fact("status", s.as_str()),
            None => obs.unobserved("status", "DescribeCertificate gave no Status"),
        };
        obs.fact("domain_name", cert.domain_name());
        match cert.not_after().and_then(timestamp) {
            Some(t) => {
                obs.fact("not_after", t.to_string());
                obs.fact("days_remaining", days_until(t));
            }
            None => {
                obs.fact("not_after", Value::Null);
                obs.fact("days_remaining", Value::Null);
            }
        }
        match cert.renewal_eligibility() {
            Some(r) => obs.fact("renewal_eligibility", r.as_str()),
            None => obs.unobserved(
                "renewal_eligibility",
                "DescribeCertificate gave no RenewalEligibility",
            ),
        };
        obs.fact(
            "renewal.status",
            cert.renewal_summary()
                .map(|r| r.renewal_status().as_str().to_string()),
        );
        let users = cert.in_use_by();
        obs.fact("in_use", !users.is_empty());
        obs.fact("in_use_by", json!(users));
        obs.evidence(
            "certificate",
            json!({
                "arn": target,
                "subject_alternative_names": cert.subject_alternative_names(),
                "key_algorithm": cert.key_algorithm().map(|k| k.as_str()),
                "not_before": cert.not_before().and_then(timestamp).map(|t| t.to_string()),
                "issuer": cert.issuer(),
                "failure_reason": cert.failure_reason().map(|f| f.as_str()),
            }),
        );
        obs.evidence("region", region);
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        Some(render_table(observations, "certificate", COLUMNS))
    }
}

const COLUMNS: &[Col] = &[
    col("domain", "domain_name"),
    col("type", "type"),
    col("status", "status"),
    time_col("not after", "not_after"),
    col("days left", "days_remaining"),
    col("renewal", "renewal_eligibility"),
    col("in use", "in_use"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_certificate_arns_or_star() {
        let arn = "arn:aws:acm:us-east-1:111122223333:certificate/0a1b2c3d-1234";
        assert_eq!(parse_target(arn), Some("us-east-1"));
        for bad in [
            "",
            "*",
            "example.com",
            "arn:aws:acm:us-east-1:1:certificate/",
            "arn:aws:acm::1:certificate/x",
            "arn:aws:iam::1:server-certificate/x",
        ] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
        assert!(AcmProbe::new(Aws::new()).check_target("*").is_ok());
    }

    #[test]
    fn every_key_type_is_asked_for() {
        let types = every_key_type();
        assert!(types.contains(&KeyAlgorithm::Rsa2048));
        assert!(types.contains(&KeyAlgorithm::EcPrime256v1));
        assert!(types.len() >= 6, "{types:?}");
    }

    #[test]
    fn days_until_rounds_down_and_goes_negative() {
        let now = jiff::Timestamp::now();
        assert_eq!(days_until(now + jiff::SignedDuration::from_hours(49)), 2);
        assert_eq!(days_until(now - jiff::SignedDuration::from_hours(1)), -1);
    }
}
