//! `aws.wafv2`: whether a WAFv2 web ACL protects an edge resource, and which managed rule
//! groups and rate-based rules it runs. Target a CloudFront distribution (id or ARN) or a
//! regional resource ARN (application load balancer, API Gateway stage, AppSync API, Cognito
//! user pool, App Runner service, Verified Access instance).
//!
//! The two kinds are read differently, as AWS requires: a distribution names its web ACL in
//! its own configuration (CloudFront GetDistributionConfig, then WAFv2 GetWebACL in scope
//! CLOUDFRONT), while a regional resource is asked of WAFv2 (GetWebACLForResource in the
//! resource's region). A distribution protected by a WAF Classic web ACL is reported as
//! associated, with the rule facts unobserved: vouch does not read WAF Classic.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_wafv2::types::{Scope, WebAcl};
use serde_json::{Value, json};

use super::cloudfront::{distribution_config, distribution_id};
use super::common::{arn_region, arn_resource, arn_service, plain_target, render_rows};
use super::{ApiCalls, Aws, unobserved};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "wafv2";

crate::service_client!(aws_sdk_wafv2, "wafv2");

/// CloudFront's web ACLs live in us-east-1, whatever the home region.
use super::cloudfront::CLOUDFRONT_REGION;

/// Services whose resources WAFv2 can protect regionally.
const REGIONAL_SERVICES: &[&str] = &[
    "elasticloadbalancing",
    "apigateway",
    "appsync",
    "cognito-idp",
    "apprunner",
    "ec2",
    "amplify",
];

const FACTS: &[FactSpec] = &[
    fact(
        "web_acl.associated",
        FactType::Bool,
        "a web ACL protects the resource",
    ),
    fact(
        "web_acl.name",
        FactType::String,
        "the web ACL's name; null when none is associated",
    ),
    fact(
        "web_acl.arn",
        FactType::String,
        "the web ACL's ARN (a WAF Classic id for classic ACLs); null when none",
    ),
    fact(
        "web_acl.managed_rule_groups",
        FactType::StringList,
        "managed rule groups it runs, as VENDOR/NAME (AWS/AWSManagedRulesCommonRuleSet)",
    ),
    fact(
        "web_acl.managed_rule_group_count",
        FactType::Integer,
        "how many managed rule groups it runs (0: an ACL that filters nothing AWS or a vendor keeps up to date)",
    ),
    fact(
        "web_acl.rate_based_rules",
        FactType::Integer,
        "rate-based rules it runs (request floods per client)",
    ),
    fact(
        "web_acl.default_action",
        FactType::String,
        "ALLOW or BLOCK for requests no rule matches; null when none",
    ),
];

const RULE_FACTS: [&str; 5] = [
    "web_acl.name",
    "web_acl.managed_rule_groups",
    "web_acl.managed_rule_group_count",
    "web_acl.rate_based_rules",
    "web_acl.default_action",
];

/// The `aws.wafv2` probe.
pub struct Wafv2Probe {
    aws: Arc<Aws>,
}

impl Wafv2Probe {
    pub fn new(aws: Arc<Aws>) -> Wafv2Probe {
        Wafv2Probe { aws }
    }
}

/// What a target names.
#[derive(Debug, PartialEq)]
enum Resource<'a> {
    Distribution(&'a str),
    Regional { arn: &'a str, region: &'a str },
}

fn resource(target: &str) -> Option<Resource<'_>> {
    if !plain_target(target) || target.contains('*') {
        return None;
    }
    if !target.starts_with("arn:") {
        // A CloudFront distribution id: upper-case letters and digits.
        return distribution_id(target).map(Resource::Distribution);
    }
    match arn_service(target)? {
        "cloudfront" => distribution_id(target).map(Resource::Distribution),
        s if REGIONAL_SERVICES.contains(&s) => Some(Resource::Regional {
            arn: target,
            region: arn_region(target)?,
        }),
        _ => None,
    }
}

/// `arn:aws:wafv2:us-east-1:123:global/webacl/NAME/ID` → (NAME, ID).
fn web_acl_name_id(arn: &str) -> Option<(&str, &str)> {
    let rest = arn_resource(arn)?;
    let mut parts = rest.split('/');
    let _scope = parts.next()?;
    (parts.next()? == "webacl").then_some(())?;
    let name = parts.next()?;
    let id = parts.next()?;
    Some((name, id))
}

/// The rule facts of a web ACL.
fn record_acl(obs: &mut Observation, acl: &WebAcl) {
    obs.fact("web_acl.associated", true);
    obs.fact("web_acl.name", acl.name());
    obs.fact("web_acl.arn", acl.arn());
    let mut groups: Vec<String> = acl
        .rules()
        .iter()
        .filter_map(|r| r.statement()?.managed_rule_group_statement())
        .chain(
            acl.pre_process_firewall_manager_rule_groups()
                .iter()
                .chain(acl.post_process_firewall_manager_rule_groups())
                .filter_map(|g| {
                    g.firewall_manager_statement()?
                        .managed_rule_group_statement()
                }),
        )
        .map(|m| format!("{}/{}", m.vendor_name(), m.name()))
        .collect();
    groups.sort();
    groups.dedup();
    obs.fact("web_acl.managed_rule_group_count", groups.len());
    obs.fact("web_acl.managed_rule_groups", json!(groups));
    let rate = acl
        .rules()
        .iter()
        .filter(|r| {
            r.statement()
                .is_some_and(|s| s.rate_based_statement().is_some())
        })
        .count();
    obs.fact("web_acl.rate_based_rules", rate);
    let action = acl.default_action().map(|a| {
        if a.block().is_some() {
            "BLOCK"
        } else {
            "ALLOW"
        }
    });
    obs.fact("web_acl.default_action", json!(action));
}

fn not_associated(obs: &mut Observation) {
    obs.fact("web_acl.associated", false);
    for p in ["web_acl.name", "web_acl.arn", "web_acl.default_action"] {
        obs.fact(p, Value::Null);
    }
    obs.fact("web_acl.managed_rule_groups", json!([]));
    obs.fact("web_acl.managed_rule_group_count", 0);
    obs.fact("web_acl.rate_based_rules", 0);
}

#[async_trait]
impl Probe for Wafv2Probe {
    fn kind(&self) -> &'static str {
        "aws.wafv2"
    }
    fn description(&self) -> &'static str {
        "the WAFv2 web ACL protecting a CloudFront distribution or a load balancer: managed rules, rate limits"
    }
    fn target_syntax(&self) -> &'static str {
        "a CloudFront distribution id or ARN, or a load balancer (or other WAF-protectable) ARN"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        match resource(target) {
            Some(_) => Ok(()),
            None => Err(
                "a CloudFront distribution id (E2QWRUHAPOMQZL) or ARN, or an ARN of a load \
                 balancer, API Gateway stage, AppSync API, Cognito user pool or App Runner service"
                    .into(),
            ),
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:wafv2".into()
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let Some(res) = resource(target) else {
            return Err(ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                format!("`{target}` is not a resource WAFv2 protects"),
            )
            .with_hint(format!("expected {}", self.target_syntax())));
        };
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let calls = ApiCalls::default();
        let mut obs = Observation::new(self.kind(), target);
        let region = match res {
            Resource::Distribution(id) => {
                // The same read as aws.cloudfront's.
                let config = distribution_config(&session, &calls, id).await?;
                let acl_id = config
                    .web_acl_id()
                    .filter(|a| !a.is_empty())
                    .map(str::to_string);
                match acl_id {
                    None => not_associated(&mut obs),
                    Some(arn) => match web_acl_name_id(&arn) {
                        Some((name, acl)) => {
                            let waf: aws_sdk_wafv2::Client =
                                session.client(Some(CLOUDFRONT_REGION));
                            let got = session
                                .call(&calls, SERVICE, "GetWebACL", CLOUDFRONT_REGION, |c| {
                                    waf.get_web_acl()
                                        .name(name)
                                        .id(acl)
                                        .scope(Scope::Cloudfront)
                                        .customize()
                                        .interceptor(c)
                                        .send()
                                })
                                .await;
                            match got.map(|g| g.web_acl().cloned()) {
                                Ok(Some(acl)) => record_acl(&mut obs, &acl),
                                Ok(None) => {
                                    obs.fact("web_acl.associated", true);
                                    obs.fact("web_acl.arn", arn.as_str());
                                    unobserved(
                                        &mut obs,
                                        &RULE_FACTS,
                                        &ProbeError::new(
                                            ProbeErrorKind::Protocol,
                                            "GetWebACL answered without a WebACL",
                                        ),
                                    );
                                }
                                Err(e) => {
                                    obs.fact("web_acl.associated", true);
                                    obs.fact("web_acl.arn", arn.as_str());
                                    unobserved(&mut obs, &RULE_FACTS, &e);
                                }
                            }
                        }
                        None => {
                            // A WAF Classic web ACL id (a GUID), not a WAFv2 ARN.
                            obs.fact("web_acl.associated", true);
                            obs.fact("web_acl.arn", arn.as_str());
                            unobserved(
                                &mut obs,
                                &RULE_FACTS,
                                &ProbeError::new(
                                    ProbeErrorKind::Other,
                                    format!("`{arn}` is a WAF Classic web ACL, which vouch does not read"),
                                )
                                .with_hint("migrate the distribution to a WAFv2 web ACL"),
                            );
                        }
                    },
                }
                CLOUDFRONT_REGION.to_string()
            }
            Resource::Regional { arn, region } => {
                let waf: aws_sdk_wafv2::Client = session.client(Some(region));
                let got = session
                    .call_optional(
                        &calls,
                        SERVICE,
                        "GetWebACLForResource",
                        region,
                        &["WAFNonexistentItemException"],
                        |c| {
                            waf.get_web_acl_for_resource()
                                .resource_arn(arn)
                                .customize()
                                .interceptor(c)
                                .send()
                        },
                    )
                    .await?;
                // WAFNonexistentItemException is also how WAFv2 answers for a resource that has
                // no web ACL association (or cannot carry one): not associated, a fact that
                // fails a WAF control, never an error nor a pass. The evidence keeps the answer.
                match got.as_ref().and_then(|g| g.web_acl()) {
                    Some(acl) => record_acl(&mut obs, acl),
                    None => not_associated(&mut obs),
                }
                if got.is_none() {
                    obs.evidence(
                        "waf_answer",
                        "WAFNonexistentItemException: WAFv2 has no web ACL association for this resource",
                    );
                }
                region.to_string()
            }
        };
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
        Some(render_rows(
            observations,
            "resource",
            &[
                ("web ACL", "web_acl.associated"),
                ("name", "web_acl.name"),
                ("managed rule groups", "web_acl.managed_rule_groups"),
                ("rate rules", "web_acl.rate_based_rules"),
                ("default", "web_acl.default_action"),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_distributions_or_regional_arns() {
        assert_eq!(
            resource("E2QWRUHAPOMQZL"),
            Some(Resource::Distribution("E2QWRUHAPOMQZL"))
        );
        assert_eq!(
            resource("arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"),
            Some(Resource::Distribution("E2QWRUHAPOMQZL"))
        );
        let alb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
        assert_eq!(
            resource(alb),
            Some(Resource::Regional {
                arn: alb,
                region: "eu-west-1"
            })
        );
        for bad in ["*", "web", "arn:aws:s3:::bucket", "e2qwruhapomqzl", ""] {
            assert_eq!(resource(bad), None, "{bad}");
        }
    }

    #[test]
    fn web_acl_arns_give_name_and_id() {
        assert_eq!(
            web_acl_name_id("arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/a1b2"),
            Some(("edge", "a1b2"))
        );
        assert_eq!(
            web_acl_name_id("473e64fd-f30b-4765-81a0-62ad96dd167a"),
            None
        );
    }
}
