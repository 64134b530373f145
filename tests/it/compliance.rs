//! The compliance suite every registered probe must pass, now and as probes are added: it
//! declares its facts with types and docs, `vouch probe --facts` prints every one of them, and an
//! unreachable target yields an `Err` with a hint within the timeout — never a hang or a panic.
//!
//! A new probe fails `every_probe_has_an_unreachable_target_here` until it is given one below:
//! that is the harness telling its author what done means.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vouch::inventory::Inventory;
use vouch::probe::{Params, ProbeContext, ProbeOptions, Registry};

use crate::support::vouch;

/// For each probe kind: a target that cannot be observed, and the inventory that makes it so.
fn unreachable(kind: &str) -> Option<(&'static str, Inventory)> {
    let mut inv = Inventory::default();
    Some(match kind {
        // No attestations file configured at all.
        "attestation" => ("pentest-2026", inv),
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        "tls" => ("127.0.0.1:1", inv),
        "http" => ("http://127.0.0.1:1/", inv),
        "github" => {
            inv.github.api_url = Some("http://127.0.0.1:1".into());
            // Any variable that is always set: the token only has to exist to reach the network.
            inv.github.token_env = Some("PATH".into());
            ("acme/api", inv)
        }
        k if k.starts_with("aws.") => {
            // Static credentials (the registry below), so the SDK signs a request and goes to
            // the network: nothing listens on port 1, the connection is refused.
            inv.aws.endpoint_url = Some("http://127.0.0.1:1".into());
            inv.aws.region = Some("us-east-1".into());
            // Probes without a `*` pattern get a concrete target, so the network is reached.
            let target = match k {
                "aws.iam" => "account",
                "aws.wafv2" => {
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
                }
                _ => "*",
            };
            (target, inv)
        }
        _ => return None,
    })
}

#[test]
fn every_probe_declares_typed_documented_unique_facts() {
    for probe in Registry::builtin().all() {
        let kind = probe.kind();
        assert!(!probe.facts().is_empty(), "{kind} declares no facts");
        assert!(
            !probe.description().is_empty() && !probe.target_syntax().is_empty(),
            "{kind}"
        );
        let mut seen = HashSet::new();
        for f in probe.facts().iter().chain(probe.params()) {
            assert!(seen.insert(f.path), "{kind} declares `{}` twice", f.path);
            assert!(
                f.doc.len() >= 8,
                "{kind}: `{}` needs a one-line meaning",
                f.path
            );
            assert!(
                !f.path.is_empty()
                    && f.path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{kind}: `{}` is not a fact path",
                f.path
            );
        }
    }
}

#[test]
fn vouch_probe_facts_prints_every_declared_fact() {
    for probe in Registry::builtin().all() {
        let out = vouch()
            .args(["probe", "--facts", probe.kind()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", probe.kind());
        let text = String::from_utf8(out.stdout).unwrap();
        for f in probe.facts() {
            assert!(
                text.contains(f.path),
                "`vouch probe --facts {}` omits {}",
                probe.kind(),
                f.path
            );
            assert!(
                text.contains(f.ty.name()),
                "{}: type of {}",
                probe.kind(),
                f.path
            );
        }
        let out = vouch()
            .args(["probe", "--facts", probe.kind(), "--format", "json"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json["facts"].as_array().unwrap().len(),
            probe.facts().len(),
            "{}",
            probe.kind()
        );
    }
}

#[test]
fn every_probe_has_an_unreachable_target_here() {
    for probe in Registry::builtin().all() {
        assert!(
            unreachable(probe.kind()).is_some(),
            "add an unreachable target for probe `{}` to tests/it/compliance.rs",
            probe.kind()
        );
    }
}

/// The built-in probes, the AWS ones with static credentials: no credential chain or profile
/// lookup stands between a probe and the (unreachable) network.
fn networked_registry() -> Registry {
    let creds = aws_credential_types::Credentials::new(
        "AKIDCOMPLIANCE",
        "compliance-secret",
        None,
        None,
        "compliance-test",
    );
    Registry::builtin_with_aws(vouch::probe::aws::Aws::with_overrides(
        vouch::probe::aws::AwsOverrides {
            credentials: Some(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            ),
            ..Default::default()
        },
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_target_is_an_error_with_a_hint_within_the_timeout() {
    for probe in networked_registry().all() {
        let Some((target, inv)) = unreachable(probe.kind()) else {
            continue;
        };
        let timeout = Duration::from_secs(5);
        let ctx = ProbeContext::new(
            Arc::new(inv),
            ProbeOptions {
                timeout,
                ..ProbeOptions::default()
            },
        );
        let start = Instant::now();
        let target = if probe.is_pattern(target) {
            // Discovery is where a pattern meets the network first.
            match tokio::time::timeout(timeout * 2, probe.discover(target, &ctx)).await {
                Ok(Err(e)) => {
                    assert!(
                        e.hint.is_some(),
                        "{}: discovery error without a hint: {e:?}",
                        probe.kind()
                    );
                    assert_reached_the_network(probe.kind(), &e);
                    continue;
                }
                Ok(Ok(found)) => panic!(
                    "{}: discovered {found:?} on an unreachable endpoint",
                    probe.kind()
                ),
                Err(_) => panic!("{}: discovery hung past twice the timeout", probe.kind()),
            }
        } else {
            target
        };
        let res =
            tokio::time::timeout(timeout * 2, probe.observe(target, &Params::new(), &ctx)).await;
        let elapsed = start.elapsed();
        let err = match res {
            Err(_) => panic!("{}: observe hung past twice the timeout", probe.kind()),
            Ok(Ok(obs)) => panic!("{}: observed an unreachable target: {obs:?}", probe.kind()),
            Ok(Err(e)) => e,
        };
        assert!(
            err.hint.is_some(),
            "{}: error without a hint: {err:?}",
            probe.kind()
        );
        assert!(!err.message.is_empty());
        assert_reached_the_network(probe.kind(), &err);
        assert!(elapsed < timeout * 2, "{}: took {elapsed:?}", probe.kind());
    }
}

/// An AWS probe's error on the unreachable endpoint must come from the network (refused,
/// timed out), not from a missing profile or credentials before any request was sent: that
/// would prove nothing about how the probe meets an unreachable endpoint.
fn assert_reached_the_network(kind: &str, e: &vouch::probe::ProbeError) {
    use vouch::probe::ProbeErrorKind;
    if kind.starts_with("aws.") {
        assert!(
            matches!(
                e.kind,
                ProbeErrorKind::Unreachable | ProbeErrorKind::Timeout
            ),
            "{kind}: expected a network error from the unreachable endpoint, got {e:?}"
        );
    }
}
