//! `aws.elbv2`: what an Application or Network load balancer offers its clients, over all its
//! listeners: the lowest TLS version any TLS listener's security policy accepts, the ciphers
//! it offers that are weak, and whether a plain HTTP listener serves content instead of
//! redirecting to HTTPS. The scheme (`internet-facing` or `internal`) is a fact so a control's
//! `where` can scope to what faces the internet. `*` discovers every Application and Network
//! load balancer in the scanned regions (Gateway load balancers carry no TLS and are left out,
//! counted in the run section).
//!
//! A policy's protocols and ciphers are what ELB says of it (DescribeSSLPolicies), asked once
//! per distinct policy and region in a run and filed into each observation that uses it: no
//! hand-kept table of policy names, so a policy AWS adds tomorrow is read right. Each listener
//! is in the evidence (`listeners`), with its policy's protocols and ciphers.
//!
//! A listener whose default action redirects with `Protocol: HTTPS` is a redirect; rules below
//! the default action are not read (a rule that forwards plain HTTP is not seen).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    ActionTypeEnum, Listener, LoadBalancer, LoadBalancerTypeEnum, ProtocolEnum,
};
use serde_json::{Value, json};

use super::common::{Arn, Col, col, plain_name, render_table, walk_pages};
use super::{ApiCalls, Aws, Session, regional_target, unobserved};
use crate::expect::Protocol;
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

crate::service_client!(aws_sdk_elasticloadbalancingv2, "elasticloadbalancing");

const SERVICE: &str = "elasticloadbalancing";

/// Load balancers per DescribeLoadBalancers page (the API's maximum is 400).
const PAGE_SIZE: i32 = 400;

const FACTS: &[FactSpec] = &[
    fact(
        "type",
        FactType::String,
        "application or network (gateway load balancers are not examined)",
    ),
    fact(
        "scheme",
        FactType::String,
        "internet-facing or internal (for a control's `where`)",
    ),
    fact(
        "state",
        FactType::String,
        "active, provisioning, active_impaired or failed",
    ),
    fact("listeners.count", FactType::Integer, "listeners on it"),
    fact(
        "listeners.protocols",
        FactType::StringList,
        "the listeners' protocols and ports (HTTPS:443, HTTP:80, TLS:443, TCP:5432)",
    ),
    fact(
        "listeners.lowest_protocol",
        FactType::Protocol,
        "the lowest TLS version any HTTPS or TLS listener's security policy accepts (DescribeSSLPolicies); null when no listener speaks TLS",
    ),
    fact(
        "listeners.plain_http_without_redirect",
        FactType::Bool,
        "some HTTP listener's default action is not a redirect to HTTPS: it serves content in plain text",
    ),
    fact(
        "listeners.plaintext",
        FactType::StringList,
        "listeners that carry traffic without TLS (PROTOCOL:PORT): HTTP that does not redirect to HTTPS, TCP, UDP, TCP_UDP",
    ),
    fact(
        "listeners.weak_ciphers",
        FactType::StringList,
        "ciphers any TLS listener's policy offers that are weak: no forward secrecy (static RSA key exchange), 3DES, RC4, DES, NULL, EXPORT, anonymous, MD5, or CBC with a SHA-1 MAC",
    ),
    fact(
        "listeners.ssl_policies",
        FactType::StringList,
        "the security policies of its HTTPS and TLS listeners",
    ),
    fact(
        "listeners.certificate_arns",
        FactType::StringList,
        "the default certificates of its HTTPS and TLS listeners (ACM or IAM ARNs)",
    ),
];

/// The facts DescribeListeners (and the policies it names) feed.
const LISTENER_FACTS: [&str; 8] = [
    "listeners.count",
    "listeners.protocols",
    "listeners.lowest_protocol",
    "listeners.plain_http_without_redirect",
    "listeners.plaintext",
    "listeners.weak_ciphers",
    "listeners.ssl_policies",
    "listeners.certificate_arns",
];

/// The facts a security policy's description feeds.
const POLICY_FACTS: [&str; 2] = ["listeners.lowest_protocol", "listeners.weak_ciphers"];

/// One security policy as ELB describes it: its protocols (as vouch orders them) and ciphers.
#[derive(Clone, Debug)]
struct Policy {
    protocols: Vec<Protocol>,
    ciphers: Vec<String>,
}

/// A policy read once per (session, region, name), and the call that read it.
type PolicyRead = Result<(Policy, Vec<Value>), ProbeError>;
type PolicyCell = tokio::sync::OnceCell<PolicyRead>;

/// The `aws.elbv2` probe.
pub struct Elbv2Probe {
    aws: Arc<Aws>,
    page_size: i32,
    policies: Mutex<HashMap<(usize, String, String), Arc<PolicyCell>>>,
}

impl Elbv2Probe {
    pub fn new(aws: Arc<Aws>) -> Elbv2Probe {
        Elbv2Probe {
            aws,
            page_size: PAGE_SIZE,
            policies: Mutex::default(),
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> Elbv2Probe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }

    /// A security policy's protocols and ciphers, asked of ELB once per session, region and
    /// policy name however many listeners use it.
    async fn policy(&self, session: &Arc<Session>, region: &str, name: &str) -> PolicyRead {
        let cell = self
            .policies
            .lock()
            .expect("policies lock")
            .entry((
                Arc::as_ptr(session) as usize,
                region.to_string(),
                name.to_string(),
            ))
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let elb: Client = session.client(Some(region));
            let calls = ApiCalls::default();
            let out = session
                .call(&calls, SERVICE, "DescribeSSLPolicies", region, |c| {
                    elb.describe_ssl_policies()
                        .names(name)
                        .customize()
                        .interceptor(c)
                        .send()
                })
                .await?;
            let policy = out
                .ssl_policies()
                .iter()
                .find(|p| p.name() == Some(name))
                .ok_or_else(|| {
                    ProbeError::new(
                        ProbeErrorKind::Protocol,
                        format!("DescribeSSLPolicies did not describe `{name}`"),
                    )
                })?;
            let mut protocols = Vec::new();
            for p in policy.ssl_protocols() {
                protocols.push(elb_protocol(p).ok_or_else(|| {
                    ProbeError::new(
                        ProbeErrorKind::Protocol,
                        format!("security policy `{name}` names an unknown protocol `{p}`"),
                    )
                })?);
            }
            let mut ciphers: Vec<(i32, String)> = policy
                .ciphers()
                .iter()
                .filter_map(|c| Some((c.priority().unwrap_or(i32::MAX), c.name()?.to_string())))
                .collect();
            ciphers.sort();
            Ok((
                Policy {
                    protocols,
                    ciphers: ciphers.into_iter().map(|(_, n)| n).collect(),
                },
                calls.records(),
            ))
        })
        .await
        .clone()
    }

    /// Every Application and Network load balancer of one region; gateway ones are counted.
    async fn list(
        &self,
        session: &Session,
        calls: &ApiCalls,
        region: &str,
    ) -> Result<(Vec<LoadBalancer>, usize), ProbeError> {
        let elb: Client = session.client(Some(region));
        let elb = &elb;
        let mut found = Vec::new();
        walk_pages(
            "elasticloadbalancing:DescribeLoadBalancers",
            |marker| {
                session.call(calls, SERVICE, "DescribeLoadBalancers", region, move |c| {
                    elb.describe_load_balancers()
                        .page_size(self.page_size)
                        .set_marker(marker.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                found.extend(page.load_balancers().iter().cloned());
                page.next_marker
            },
        )
        .await?;
        let total = found.len();
        found.retain(|lb| !matches!(lb.r#type(), Some(LoadBalancerTypeEnum::Gateway)));
        Ok((found.clone(), total - found.len()))
    }
}

/// ELB's protocol names (`TLSv1` is TLS 1.0) in vouch's order.
fn elb_protocol(name: &str) -> Option<Protocol> {
    match name {
        "SSLv3" => Some(Protocol::SslV3),
        "TLSv1" | "TLSv1.0" => Some(Protocol::TlsV1_0),
        other => Protocol::parse(other),
    }
}

/// Whether an OpenSSL-named cipher (as ELB names them) is weak: no forward secrecy (a static
/// RSA key exchange: `AES128-SHA`), a broken cipher or MAC (3DES, RC4, DES, NULL, EXPORT,
/// anonymous, MD5), or CBC with a SHA-1 MAC (`ECDHE-RSA-AES128-SHA`). TLS 1.3 suites
/// (`TLS_AES_128_GCM_SHA256`) are all strong.
pub fn weak_cipher(name: &str) -> bool {
    if name.starts_with("TLS_") {
        return false;
    }
    let parts: Vec<&str> = name.split('-').collect();
    let has = |p: &str| parts.contains(&p);
    let broken = [
        "3DES", "DES", "CBC3", "RC4", "NULL", "EXP", "EXPORT", "ADH", "AECDH", "MD5", "anon",
    ]
    .iter()
    .any(|p| has(p));
    let forward_secret = matches!(parts.first(), Some(&("ECDHE" | "DHE" | "EDH")));
    let aead = has("GCM") || name.contains("CHACHA20") || has("CCM");
    let sha1_cbc = !aead && parts.last() == Some(&"SHA");
    broken || !forward_secret || sha1_cbc
}

/// Whether a listener's default action is a redirect to HTTPS.
fn redirects_to_https(l: &Listener) -> bool {
    let mut actions: Vec<_> = l.default_actions().iter().collect();
    actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    // The first action to run that ends the request decides; authentication actions come first.
    actions
        .into_iter()
        .find(|a| {
            !matches!(
                a.r#type(),
                Some(ActionTypeEnum::AuthenticateOidc | ActionTypeEnum::AuthenticateCognito)
            )
        })
        .is_some_and(|a| {
            a.r#type() == Some(&ActionTypeEnum::Redirect)
                && a.redirect_config()
                    .and_then(|r| r.protocol())
                    .is_some_and(|p| p.eq_ignore_ascii_case("HTTPS"))
        })
}

fn speaks_tls(p: Option<&ProtocolEnum>) -> bool {
    matches!(p, Some(ProtocolEnum::Https | ProtocolEnum::Tls))
}

/// What a target names: a load balancer's name (home region) or its ARN (its own region).
fn parse_target(target: &str) -> Option<(&str, Option<&str>)> {
    if target.starts_with("arn:") {
        let arn = Arn::parse(target)?;
        (arn.service == "elasticloadbalancing"
            && (arn.resource.starts_with("loadbalancer/app/")
                || arn.resource.starts_with("loadbalancer/net/")))
        .then_some((target, Some(arn.region()?)))
    } else {
        // 1–32 alphanumerics and hyphens, not starting or ending with a hyphen.
        let ok = (1..=32).contains(&target.len())
            && target
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !target.starts_with('-')
            && !target.ends_with('-');
        (ok && plain_name(target)).then_some((target, None))
    }
}

#[async_trait]
impl Probe for Elbv2Probe {
    fn kind(&self) -> &'static str {
        "aws.elbv2"
    }
    fn description(&self) -> &'static str {
        "an Application or Network load balancer's listeners: lowest TLS version and weak ciphers of their security policies, plain HTTP without a redirect"
    }
    fn target_syntax(&self) -> &'static str {
        "a load balancer name or ARN, or `*` for every Application and Network load balancer"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || parse_target(target).is_some() {
            Ok(())
        } else {
            Err(
                "a load balancer name (web-prod: up to 32 letters, digits and hyphens), an \
                 Application or Network load balancer ARN \
                 (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID), or `*`"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:elasticloadbalancing".into()
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
                let calls = ApiCalls::default();
                let (lbs, gateways) = self.list(session, &calls, &region).await?;
                let mut targets: Vec<String> = lbs
                    .iter()
                    .filter_map(|lb| {
                        let name = lb.load_balancer_name()?;
                        Some(regional_target(session, &region, name, || {
                            lb.load_balancer_arn().unwrap_or(name).to_string()
                        }))
                    })
                    .collect();
                targets.sort();
                targets.dedup();
                ctx.record_run_info(
                    &format!("aws.elbv2.discovery.{region}"),
                    json!({
                        "load_balancers": targets.len(),
                        "gateway_load_balancers_not_examined": gateways,
                        "api_calls": calls.into_summaries(),
                    }),
                );
                Ok(targets)
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
        let region = region.unwrap_or(session.region()).to_string();
        let elb: Client = session.client(Some(&region));
        let calls = ApiCalls::default();
        let by_arn = id.starts_with("arn:");
        let out = session
            .call_optional(
                &calls,
                SERVICE,
                "DescribeLoadBalancers",
                &region,
                &["LoadBalancerNotFound"],
                |c| {
                    let req = elb.describe_load_balancers();
                    let req = if by_arn {
                        req.load_balancer_arns(id)
                    } else {
                        req.names(id)
                    };
                    req.customize().interceptor(c).send()
                },
            )
            .await?;
        let lb = out
            .as_ref()
            .and_then(|o| o.load_balancers().first())
            .ok_or_else(|| {
                ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("no load balancer `{id}` in {region}"),
                )
                .with_hint("check the name and region (aws elbv2 describe-load-balancers)")
            })?
            .clone();
        let lb_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let mut obs = Observation::new(self.kind(), target);
        obs.fact("type", lb.r#type().map(|t| t.as_str().to_string()));
        obs.fact("scheme", lb.scheme().map(|s| s.as_str().to_string()));
        obs.fact(
            "state",
            lb.state()
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_string()),
        );

        // Every listener, every page.
        let mut listeners: Vec<Listener> = Vec::new();
        let listed = {
            let elb = &elb;
            let lb_arn = &lb_arn;
            let calls = &calls;
            let region = &region;
            let session = &session;
            walk_pages(
                "elasticloadbalancing:DescribeListeners",
                |marker| {
                    session.call(calls, SERVICE, "DescribeListeners", region, move |c| {
                        elb.describe_listeners()
                            .load_balancer_arn(lb_arn)
                            .set_marker(marker.clone())
                            .customize()
                            .interceptor(c)
                            .send()
                    })
                },
                |page| {
                    listeners.extend(page.listeners().iter().cloned());
                    page.next_marker
                },
            )
            .await
        };
        match listed {
            Err(e) => unobserved(&mut obs, &LISTENER_FACTS, &e),
            Ok(()) => {
                self.listener_facts(&session, &calls, &region, &listeners, &mut obs)
                    .await
            }
        }
        obs.evidence(
            "load_balancer",
            json!({
                "name": lb.load_balancer_name(),
                "arn": lb.load_balancer_arn(),
                "dns_name": lb.dns_name(),
                "vpc_id": lb.vpc_id(),
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
        Some(render_table(observations, "load balancer", COLUMNS))
    }
}

impl Elbv2Probe {
    /// The per-load-balancer facts over all listeners, and each listener in the evidence.
    async fn listener_facts(
        &self,
        session: &Arc<Session>,
        calls: &ApiCalls,
        region: &str,
        listeners: &[Listener],
        obs: &mut Observation,
    ) {
        let mut names: Vec<&str> = listeners
            .iter()
            .filter(|l| speaks_tls(l.protocol()))
            .filter_map(|l| l.ssl_policy())
            .collect();
        names.sort();
        names.dedup();
        let mut policies: HashMap<&str, Result<Policy, ProbeError>> = HashMap::new();
        for name in &names {
            let read = self.policy(session, region, name).await;
            policies.insert(
                name,
                read.map(|(p, records)| {
                    calls.extend(records);
                    p
                }),
            );
        }

        let mut lowest: Option<Protocol> = None;
        let mut weak: Vec<String> = Vec::new();
        let mut policy_error: Option<ProbeError> = None;
        let mut plain_http = false;
        let mut plaintext = Vec::new();
        let mut protocols = Vec::new();
        let mut certs = Vec::new();
        let mut evidence = Vec::new();
        for l in listeners {
            let proto = l.protocol().map(|p| p.as_str()).unwrap_or("?");
            let port = l.port().map_or_else(|| "?".to_string(), |p| p.to_string());
            protocols.push(format!("{proto}:{port}"));
            let tls = speaks_tls(l.protocol());
            let redirect = l.protocol() == Some(&ProtocolEnum::Http) && redirects_to_https(l);
            if l.protocol() == Some(&ProtocolEnum::Http) && !redirect {
                plain_http = true;
            }
            if !tls && !redirect {
                plaintext.push(format!("{proto}:{port}"));
            }
            let mut entry = json!({
                "arn": l.listener_arn(),
                "protocol": proto,
                "port": l.port(),
            });
            if tls {
                let listener_certs: Vec<&str> = l
                    .certificates()
                    .iter()
                    .filter_map(|c| c.certificate_arn())
                    .collect();
                certs.extend(listener_certs.iter().map(|c| c.to_string()));
                entry["certificate_arns"] = json!(listener_certs);
                entry["ssl_policy"] = json!(l.ssl_policy());
                match l.ssl_policy().map(|n| (n, policies.get(n))) {
                    Some((_, Some(Ok(p)))) => {
                        if let Some(min) = p.protocols.iter().min() {
                            lowest = Some(lowest.map_or(*min, |l| l.min(*min)));
                        }
                        weak.extend(p.ciphers.iter().filter(|c| weak_cipher(c)).cloned());
                        entry["policy_protocols"] =
                            json!(p.protocols.iter().map(|p| p.as_str()).collect::<Vec<_>>());
                        entry["policy_ciphers"] = json!(p.ciphers);
                    }
                    Some((_, Some(Err(e)))) => policy_error = Some(e.clone()),
                    _ => {
                        policy_error = Some(ProbeError::new(
                            ProbeErrorKind::Protocol,
                            format!("{proto} listener on port {port} names no security policy"),
                        ))
                    }
                }
            } else if l.protocol() == Some(&ProtocolEnum::Http) {
                entry["redirects_to_https"] = json!(redirect);
            }
            entry["default_actions"] = json!(
                l.default_actions()
                    .iter()
                    .map(|a| json!({
                        "type": a.r#type().map(|t| t.as_str()),
                        "order": a.order(),
                        "redirect_protocol": a.redirect_config().and_then(|r| r.protocol()),
                        "target_group_arn": a.target_group_arn(),
                    }))
                    .collect::<Vec<_>>()
            );
            evidence.push(entry);
        }
        weak.sort();
        weak.dedup();
        certs.sort();
        certs.dedup();
        obs.fact("listeners.count", listeners.len());
        obs.fact("listeners.protocols", json!(protocols));
        obs.fact("listeners.plain_http_without_redirect", plain_http);
        obs.fact("listeners.plaintext", json!(plaintext));
        obs.fact("listeners.ssl_policies", json!(names));
        obs.fact("listeners.certificate_arns", json!(certs));
        match policy_error {
            Some(e) => unobserved(obs, &POLICY_FACTS, &e),
            None => {
                obs.fact("listeners.lowest_protocol", lowest.map(|p| p.as_str()));
                obs.fact("listeners.weak_ciphers", json!(weak));
            }
        }
        obs.evidence("listeners", Value::Array(evidence));
    }
}

/// The spot-check table's columns.
const COLUMNS: &[Col] = &[
    col("type", "type"),
    col("scheme", "scheme"),
    col("listeners", "listeners.protocols"),
    col("lowest TLS", "listeners.lowest_protocol"),
    col("HTTP w/o redirect", "listeners.plain_http_without_redirect"),
    col("weak ciphers", "listeners.weak_ciphers"),
    col("policies", "listeners.ssl_policies"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_names_or_load_balancer_arns() {
        assert_eq!(parse_target("web-prod"), Some(("web-prod", None)));
        let alb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
        assert_eq!(parse_target(alb), Some((alb, Some("eu-west-1"))));
        let nlb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/db/50dc6c495c0c9188";
        assert_eq!(parse_target(nlb), Some((nlb, Some("us-east-1"))));
        for bad in [
            "",
            "*",
            "-web",
            "web-",
            "a b",
            "web*",
            "this-name-is-far-too-long-for-a-load-balancer",
            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/tg/1",
            "arn:aws:s3:::bucket",
        ] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
    }

    #[test]
    fn elb_protocol_names_order_like_the_tls_probe() {
        assert_eq!(elb_protocol("TLSv1"), Some(Protocol::TlsV1_0));
        assert_eq!(elb_protocol("TLSv1.1"), Some(Protocol::TlsV1_1));
        assert_eq!(elb_protocol("TLSv1.2"), Some(Protocol::TlsV1_2));
        assert_eq!(elb_protocol("TLSv1.3"), Some(Protocol::TlsV1_3));
        assert_eq!(elb_protocol("SSLv3"), Some(Protocol::SslV3));
        assert_eq!(elb_protocol("QUIC"), None);
        assert!(elb_protocol("TLSv1").unwrap() < elb_protocol("TLSv1.2").unwrap());
    }

    #[test]
    fn weak_ciphers_lack_forward_secrecy_or_use_broken_primitives() {
        for weak in [
            "AES128-SHA",
            "AES256-GCM-SHA384",
            "DES-CBC3-SHA",
            "ECDHE-RSA-AES128-SHA",
            "ECDHE-ECDSA-AES256-SHA",
            "RC4-MD5",
            "ECDHE-RSA-RC4-SHA",
            "ADH-AES128-SHA",
        ] {
            assert!(weak_cipher(weak), "{weak} is weak");
        }
        for strong in [
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES128-SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "TLS_AES_128_GCM_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256",
        ] {
            assert!(!weak_cipher(strong), "{strong} is not weak");
        }
    }
}
