//! The `tls` probe: which protocol versions an endpoint accepts, proven one by one, and what its
//! certificate chain is worth.
//!
//! It owns target parsing (`host`, `host:port`, `https://host[:port]`, IP literals), name
//! resolution (every A/AAAA address, or the inventory's `[resolve]` override), the aggregation of
//! per-address scans into facts, and the spot-check rendering. The wire work lives in the
//! submodules: [`hello`] builds raw ClientHellos, [`reply`] reads answers, [`scan`] runs one
//! address, [`chain`] does the rustls handshake and the trust verdict, [`cert`] reads a
//! certificate. It observes; whether TLS 1.0 is acceptable is a control's business.

pub mod cert;
pub mod chain;
pub mod connect;
pub mod hello;
pub mod ocsp;
pub mod reply;
pub mod scan;
pub mod starttls;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};
use crate::expect::Protocol;
use scan::{AddressScan, Budget, Verdict};

/// The TLS probe.
pub struct TlsProbe;

const FACTS: &[FactSpec] = &[
    fact(
        "ciphers.SSLv3",
        FactType::StringList,
        "IANA names of the suites accepted in SSLv3, in the server's order when it enforces one",
    ),
    fact(
        "ciphers.TLSv1.0",
        FactType::StringList,
        "IANA names of the suites accepted in TLS 1.0 (server order when enforced)",
    ),
    fact(
        "ciphers.TLSv1.1",
        FactType::StringList,
        "IANA names of the suites accepted in TLS 1.1 (server order when enforced)",
    ),
    fact(
        "ciphers.TLSv1.2",
        FactType::StringList,
        "IANA names of the suites accepted in TLS 1.2 (server order when enforced)",
    ),
    fact(
        "ciphers.TLSv1.3",
        FactType::StringList,
        "IANA names of the suites accepted in TLS 1.3 (server order when enforced)",
    ),
    fact(
        "ciphers.server_preference",
        FactType::Bool,
        "the server picks by its own order (null: never two suites to compare)",
    ),
    fact(
        "ciphers.weak",
        FactType::StringList,
        "accepted suites with NULL, EXPORT, anonymous, RC4, DES, 3DES, IDEA or MD5",
    ),
    fact(
        "ciphers.legacy",
        FactType::StringList,
        "accepted CBC suites with a SHA-1 MAC (not already weak)",
    ),
    fact(
        "ciphers.forward_secrecy_all",
        FactType::Bool,
        "every accepted suite has an ephemeral key exchange (ECDHE, DHE, TLS 1.3)",
    ),
    fact(
        "groups.accepted",
        FactType::StringList,
        "IANA names of the key-exchange groups accepted (TLS 1.3 key shares, TLS <= 1.2 ECDHE curves), in the order chosen",
    ),
    fact(
        "groups.dhe_min_bits",
        FactType::Integer,
        "size in bits of the smallest finite-field DHE prime a TLS <= 1.2 DHE suite uses (null: no DHE suite accepted)",
    ),
    fact(
        "addresses.scanned",
        FactType::StringList,
        "the addresses scanned (every A/AAAA of the name in the chosen IP family); facts aggregate over them",
    ),
    fact(
        "addresses.unreachable",
        FactType::StringList,
        "addresses this machine has no route to (ENETUNREACH/EADDRNOTAVAIL), with the reason; left out of the facts",
    ),
    fact(
        "protocols.accepted",
        FactType::StringList,
        "versions proven accepted (at any address)",
    ),
    fact(
        "protocols.rejected",
        FactType::StringList,
        "versions proven rejected (at every address)",
    ),
    fact(
        "protocols.inconclusive",
        FactType::StringList,
        "versions neither proven accepted nor rejected",
    ),
    fact(
        "protocols.lowest",
        FactType::Protocol,
        "lowest accepted version; observed only when every lower version was proven rejected (null: none accepted)",
    ),
    fact(
        "protocols.highest",
        FactType::Protocol,
        "highest accepted version; observed only when every higher version was proven rejected (null: none accepted)",
    ),
    fact(
        "versions.SSLv3",
        FactType::String,
        "accepted | rejected | inconclusive",
    ),
    fact(
        "versions.TLSv1.0",
        FactType::String,
        "accepted | rejected | inconclusive",
    ),
    fact(
        "versions.TLSv1.1",
        FactType::String,
        "accepted | rejected | inconclusive",
    ),
    fact(
        "versions.TLSv1.2",
        FactType::String,
        "accepted | rejected | inconclusive",
    ),
    fact(
        "versions.TLSv1.3",
        FactType::String,
        "accepted | rejected | inconclusive",
    ),
    fact(
        "negotiated.protocol",
        FactType::Protocol,
        "version a TLS 1.2/1.3 client (rustls) negotiates; the highest accepted raw hello when rustls cannot connect",
    ),
    fact(
        "negotiated.cipher",
        FactType::String,
        "IANA name of the negotiated cipher suite",
    ),
    fact(
        "certificate.subject",
        FactType::String,
        "subject of the served leaf certificate",
    ),
    fact(
        "certificate.issuer",
        FactType::String,
        "issuer of the leaf certificate",
    ),
    fact(
        "certificate.sans",
        FactType::StringList,
        "subjectAltName DNS names and IP addresses",
    ),
    fact(
        "certificate.not_before",
        FactType::Timestamp,
        "start of the leaf's validity",
    ),
    fact(
        "certificate.not_after",
        FactType::Timestamp,
        "end of the leaf's validity",
    ),
    fact(
        "certificate.days_remaining",
        FactType::Integer,
        "whole days until not_after (negative once expired)",
    ),
    fact(
        "certificate.lifetime_days",
        FactType::Integer,
        "the leaf's validity period (not_after - not_before) in whole days; the longest over the certificates served",
    ),
    fact(
        "certificate.key_type",
        FactType::String,
        "RSA | EC | Ed25519 | Ed448 | DSA",
    ),
    fact(
        "certificate.key_bits",
        FactType::Integer,
        "key size: RSA modulus bits, counted exactly; EC field size",
    ),
    fact(
        "certificate.key_curve",
        FactType::String,
        "named curve of an EC key (P-256, P-384, P-521); null for other keys",
    ),
    fact(
        "certificate.signature_algorithm",
        FactType::String,
        "the leaf's signature algorithm (sha256WithRSAEncryption, ecdsa-with-SHA256, …)",
    ),
    fact(
        "certificate.self_signed",
        FactType::Bool,
        "the leaf is its own issuer",
    ),
    fact(
        "certificate.hostname_matches",
        FactType::Bool,
        "the target's name is in the leaf's SANs (RFC 6125 wildcards)",
    ),
    fact(
        "certificate.chain_trusted",
        FactType::Bool,
        "a path from the served certificates to a trusted root exists and every signature verifies (time and name aside)",
    ),
    fact(
        "certificate.valid",
        FactType::Bool,
        "a strict client's verdict: trusted chain, inside validity, hostname matches, key >= RSA 2048 / EC 256",
    ),
    fact(
        "certificate.chain_error",
        FactType::String,
        "why the certificate is not valid, in words (null when valid)",
    ),
    fact(
        "certificate.sha256_fingerprint",
        FactType::String,
        "SHA-256 of the leaf's DER, lowercase hex",
    ),
    fact(
        "certificate.ocsp_stapled",
        FactType::Bool,
        "the server staples an OCSP response to its certificate (at every address)",
    ),
    fact(
        "certificate.ocsp_status",
        FactType::String,
        "good | revoked | unknown: the stapled response's status for the served leaf (worst over addresses); only when stapled",
    ),
    fact(
        "certificate.ocsp_produced_at",
        FactType::Timestamp,
        "producedAt of the stapled OCSP response",
    ),
    fact(
        "certificate.ocsp_this_update",
        FactType::Timestamp,
        "thisUpdate of the stapled response's entry for the leaf",
    ),
    fact(
        "certificate.ocsp_next_update",
        FactType::Timestamp,
        "nextUpdate of the stapled response's entry for the leaf (null: the responder sets none)",
    ),
    fact(
        "starttls.protocol",
        FactType::String,
        "smtp | imap | pop3 | postgres: the plaintext protocol upgraded to TLS (null for a plain TLS target)",
    ),
    fact(
        "starttls.offered",
        FactType::Bool,
        "the server offers the STARTTLS upgrade (SMTP EHLO STARTTLS, IMAP STARTTLS, POP3 STLS, PostgreSQL SSLRequest answered S), at every address",
    ),
];

/// A parsed target: the name kept for SNI, checks and the report, and the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// The plaintext protocol to upgrade through (`smtp://`, `imap://`, `pop3://`, `postgres://`).
    pub starttls: Option<starttls::Scheme>,
}

impl Target {
    /// Whether the host is an IP literal (no SNI, SAN IP matching).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// Parses `host`, `host:port`, `https://host[:port][/…]`, `1.2.3.4[:port]`, `[::1][:port]`,
/// and the STARTTLS forms `smtp://`, `imap://`, `pop3://`, `postgres://host[:port]`.
pub fn parse_target(input: &str) -> Result<Target, String> {
    let bad = |why: &str| {
        format!(
            "`{input}` is not a TLS target ({why}); write host, host:port, https://host[:port], an IPv4 address or [IPv6], or smtp:// imap:// pop3:// postgres://host[:port] for STARTTLS"
        )
    };
    let mut s = input.trim();
    let mut upgrade = None;
    if let Some((scheme, rest)) = s.split_once("://") {
        if !scheme.eq_ignore_ascii_case("https") {
            upgrade = Some(starttls::Scheme::from_url_scheme(scheme).ok_or_else(|| {
                bad("only https:// URLs carry TLS, or smtp, imap, pop3 and postgres through STARTTLS")
            })?);
        }
        s = rest;
    }
    let default_port = upgrade.map_or(443, starttls::Scheme::default_port);
    let s = s.split(['/', '?', '#']).next().unwrap_or("");
    // A password in the target would be copied into every report and log that names it.
    if s.rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
    {
        return Err(bad(
            "it holds a password; vouch sends no credentials, write the target without user:password@",
        ));
    }
    let s = s.rsplit_once('@').map(|(_, h)| h).unwrap_or(s);
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        inner
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address inside [ ]"))?;
        let port = match after {
            "" => default_port,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| bad("bad port"))?,
        };
        (inner.to_string(), port)
    } else if s.matches(':').count() > 1 {
        let ip: std::net::Ipv6Addr = s.parse().map_err(|_| bad("write IPv6 addresses in [ ]"))?;
        (ip.to_string(), default_port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
            None => (s.to_string(), default_port),
        }
    };
    if port == 0 {
        return Err(bad("port 0"));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(bad("a host name has letters, digits, '-' and '.' only"));
    }
    Ok(Target {
        host,
        port,
        starttls: upgrade,
    })
}

#[async_trait]
impl Probe for TlsProbe {
    fn kind(&self) -> &'static str {
        "tls"
    }
    fn description(&self) -> &'static str {
        "TLS endpoint: every protocol version proven accepted or rejected, the certificate chain read and judged"
    }
    fn target_syntax(&self) -> &'static str {
        "host[:port] (default 443), https://host[:port], IPv4 or [IPv6]; STARTTLS: smtp://host[:port] (25), imap:// (143), pop3:// (110), postgres://host[:port] (5432)"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        parse_target(target).map(|_| ())
    }
    fn host_key(&self, target: &str) -> String {
        parse_target(target)
            .map(|t| t.host)
            .unwrap_or_else(|_| target.to_string())
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let started = Instant::now();
        let t =
            parse_target(target).map_err(|e| ProbeError::new(ProbeErrorKind::InvalidTarget, e))?;
        let timeout = ctx.options.timeout.max(Duration::from_millis(300));
        // Leave a tenth of the engine's timeout for the work after the wire.
        let deadline = started + timeout.mul_f32(0.9);
        let budget = Budget {
            deadline,
            per_connection: timeout.mul_f32(0.3),
        };
        let trust = chain::trust_store(ctx.inventory.tls.ca_file.as_deref()).map_err(|e| {
            ProbeError::new(ProbeErrorKind::Config, e)
                .with_hint("fix or remove `[tls] ca_file` in the inventory")
        })?;
        let family = ctx.inventory.tls.ip_family;
        let resolved = resolve(&t, ctx, timeout.mul_f32(0.3)).await?;
        let addrs: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| family.admits(a.ip()))
            .collect();
        if addrs.is_empty() {
            return Err(ProbeError::new(
                ProbeErrorKind::Unreachable,
                format!(
                    "{} has no address of the IP family asked for ({family:?}); it resolves to {}",
                    t.host,
                    resolved
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_hint("change `[tls] ip_family` / --ip-family (4, 6 or any)"));
        }
        // STARTTLS targets: is the upgrade offered at all? (Nothing is asked for plain TLS.)
        let offers =
            starttls::Offers::check(t.starttls, &addrs, Instant::now() + budget.per_connection)
                .await;
        if let Some(e) = offers.failure() {
            return Err(e);
        }
        if let Some(why) = offers.none_offered() {
            let mut obs = Observation::new(self.kind(), target);
            offers.record(&mut obs);
            for f in FACTS.iter().filter(|f| !f.path.starts_with("starttls.")) {
                obs.unobserved(f.path, why.clone());
            }
            obs.evidence("connections", json!(offers.connections()));
            obs.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(obs);
        }
        let addrs = offers.scan_addresses(&addrs);
        let ciphers = ctx.uses_fact(self.kind(), "ciphers.");
        let groups = ctx.uses_fact(self.kind(), "groups.");
        // Every connection of the scan goes through connect::connect, which runs the target's
        // STARTTLS upgrade first (the scheme is scoped here, so nothing below may tokio::spawn).
        let mut scans = starttls::scoped(
            t.starttls,
            futures::future::join_all(addrs.iter().map(|&addr| {
                scan::scan_address(
                    addr,
                    &t.host,
                    budget,
                    ctx.options.connections_per_address,
                    ciphers,
                    groups,
                )
            })),
        )
        .await;
        // An address this machine has no route to (IPv6 on a runner without it) says nothing
        // about the server: it is listed and left out, unless it is all there is.
        let no_route: Vec<String> = scans
            .iter()
            .filter_map(|s| s.no_route().map(|why| format!("{}: {why}", s.addr)))
            .collect();
        if no_route.len() < scans.len() {
            scans.retain(|s| s.no_route().is_none());
        }
        if scans.iter().all(AddressScan::unreachable) {
            let why = scans
                .first()
                .and_then(|s| s.handshake.as_ref().err())
                .map(|f| f.error.clone())
                .unwrap_or_default();
            return Err(ProbeError::new(
                ProbeErrorKind::Unreachable,
                format!(
                    "{}:{} ({}): {why}",
                    t.host,
                    t.port,
                    addrs
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_hint("check the host, the port and any firewall between here and there"));
        }
        let mut obs = Observation::new(self.kind(), target);
        obs.fact("addresses.unreachable", no_route);
        obs.fact(
            "addresses.scanned",
            scans.iter().map(|s| s.addr.to_string()).collect::<Vec<_>>(),
        );
        record_versions(&mut obs, &scans);
        if ciphers {
            record_ciphers(&mut obs, &scans);
        } else {
            for f in CIPHER_FACTS {
                obs.unobserved(
                    f,
                    "cipher suites are enumerated only when a control uses a ciphers.* fact (vouch probe tls --ciphers)",
                );
            }
        }
        if groups {
            record_groups(&mut obs, &scans);
        } else {
            for f in ["groups.accepted", "groups.dhe_min_bits"] {
                obs.unobserved(
                    f,
                    "key-exchange groups are enumerated only when a control uses a groups.* fact (vouch probe tls --ciphers)",
                );
            }
        }
        record_negotiated(&mut obs, &scans);
        record_certificate(&mut obs, &t, &scans, &trust);
        ocsp::record(&mut obs, &scans);
        offers.record(&mut obs);
        obs.evidence(
            "target",
            json!({"host": t.host, "port": t.port, "sni": t.ip().is_none().then_some(&t.host)}),
        );
        obs.evidence(
            "addresses",
            Value::Object(
                scans
                    .iter()
                    .map(|s| (s.addr.to_string(), address_evidence(s)))
                    .collect(),
            ),
        );
        obs.evidence(
            "connections",
            json!(scans.iter().map(|s| s.connections).sum::<usize>() + offers.connections()),
        );
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, o: &Observation) -> Option<String> {
        Some(render(o))
    }
}

/// The addresses to probe: the `[resolve]` override, the IP literal, or every A/AAAA record.
async fn resolve(
    t: &Target,
    ctx: &ProbeContext,
    limit: Duration,
) -> Result<Vec<SocketAddr>, ProbeError> {
    let mapped = ctx.inventory.resolve_all(&t.host, t.port);
    if !mapped.is_empty() {
        return Ok(mapped);
    }
    if let Some(ip) = t.ip() {
        return Ok(vec![SocketAddr::new(ip, t.port)]);
    }
    let found = tokio::time::timeout(limit, tokio::net::lookup_host((t.host.as_str(), t.port)))
        .await
        .map_err(|_| ProbeError::timeout(limit).with_hint("the DNS resolver did not answer"))?
        .map_err(|e| {
            ProbeError::new(
                ProbeErrorKind::Unreachable,
                format!("cannot resolve {}: {e}", t.host),
            )
            .with_hint("check the name, or map it with [resolve] in the inventory / --resolve")
        })?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    if addrs.is_empty() {
        return Err(ProbeError::new(
            ProbeErrorKind::Unreachable,
            format!("{} has no A or AAAA record", t.host),
        )
        .with_hint("check the name, or map it with [resolve] in the inventory / --resolve"));
    }
    Ok(addrs)
}

/// Aggregates one version over addresses: accepted anywhere wins; rejected needs every address.
fn aggregate(scans: &[AddressScan], v: Protocol) -> (Verdict, String) {
    let results: Vec<(&AddressScan, &scan::VersionResult)> = scans
        .iter()
        .filter_map(|s| s.versions.get(&v).map(|r| (s, r)))
        .collect();
    let pick = |verdict: Verdict| {
        results
            .iter()
            .find(|(_, r)| r.verdict == verdict)
            .map(|(s, r)| (verdict, with_addr(scans, s, &r.reason)))
    };
    if let Some(found) = pick(Verdict::Accepted) {
        return found;
    }
    if let Some(found) = pick(Verdict::Inconclusive) {
        return found;
    }
    if results.is_empty() {
        return (Verdict::Inconclusive, "not probed".into());
    }
    pick(Verdict::Rejected).unwrap_or((Verdict::Inconclusive, "not probed".into()))
}

fn with_addr(scans: &[AddressScan], s: &AddressScan, reason: &str) -> String {
    if scans.len() > 1 {
        format!("{reason} (at {})", s.addr)
    } else {
        reason.to_string()
    }
}

fn record_versions(obs: &mut Observation, scans: &[AddressScan]) {
    let verdicts: BTreeMap<Protocol, (Verdict, String)> = Protocol::ALL
        .iter()
        .map(|&v| (v, aggregate(scans, v)))
        .collect();
    let list = |want: Verdict| -> Vec<String> {
        verdicts
            .iter()
            .filter(|(_, (v, _))| *v == want)
            .map(|(p, _)| p.as_str().to_string())
            .collect()
    };
    // The lists are complete only when every version got an answer: while one is inconclusive
    // (a timeout), `protocols.accepted not in [TLSv1.0, …]` must not pass on a missing answer.
    let open = list(Verdict::Inconclusive);
    if open.is_empty() {
        obs.fact("protocols.accepted", list(Verdict::Accepted));
        obs.fact("protocols.rejected", list(Verdict::Rejected));
    } else {
        let why = format!(
            "inconclusive for {}: the list is incomplete",
            open.join(", ")
        );
        obs.unobserved("protocols.accepted", why.clone());
        obs.unobserved("protocols.rejected", why);
    }
    obs.fact("protocols.inconclusive", open);
    for (p, (v, _)) in &verdicts {
        obs.fact(&format!("versions.{}", p.as_str()), v.as_str());
    }
    obs.evidence(
        "versions",
        Value::Object(
            verdicts
                .iter()
                .map(|(p, (v, why))| {
                    (
                        p.as_str().to_string(),
                        json!({"verdict": v.as_str(), "reason": why}),
                    )
                })
                .collect(),
        ),
    );
    let accepted: Vec<Protocol> = verdicts
        .iter()
        .filter(|(_, (v, _))| *v == Verdict::Accepted)
        .map(|(p, _)| *p)
        .collect();
    let unproven = |range: &mut dyn Iterator<Item = &Protocol>| -> Vec<String> {
        range
            .filter(|p| verdicts[*p].0 != Verdict::Rejected)
            .map(|p| format!("{p}: {}", verdicts[p].1))
            .collect()
    };
    match (accepted.first(), accepted.last()) {
        (Some(&lowest), Some(&highest)) => {
            let below = unproven(&mut Protocol::ALL.iter().filter(|p| **p < lowest));
            if below.is_empty() {
                obs.fact("protocols.lowest", lowest.as_str());
            } else {
                obs.unobserved(
                    "protocols.lowest",
                    format!(
                        "{lowest} is the lowest version accepted, but a lower one was not proven rejected ({})",
                        below.join("; ")
                    ),
                );
            }
            let above = unproven(&mut Protocol::ALL.iter().filter(|p| **p > highest));
            if above.is_empty() {
                obs.fact("protocols.highest", highest.as_str());
            } else {
                obs.unobserved(
                    "protocols.highest",
                    format!(
                        "{highest} is the highest version accepted, but a higher one was not proven rejected ({})",
                        above.join("; ")
                    ),
                );
            }
        }
        _ => {
            let open = unproven(&mut Protocol::ALL.iter());
            if open.is_empty() {
                obs.fact("protocols.lowest", Value::Null);
                obs.fact("protocols.highest", Value::Null);
            } else {
                let why = format!(
                    "no version was proven accepted and some were not proven rejected ({})",
                    open.join("; ")
                );
                obs.unobserved("protocols.lowest", why.clone());
                obs.unobserved("protocols.highest", why);
            }
        }
    }
}

fn record_negotiated(obs: &mut Observation, scans: &[AddressScan]) {
    if let Some(h) = scans.iter().find_map(|s| s.handshake.as_ref().ok()) {
        match h.protocol {
            Some(p) => obs.fact("negotiated.protocol", p.as_str()),
            None => obs.unobserved("negotiated.protocol", "rustls reported no version"),
        };
        match h.cipher {
            Some(c) => obs.fact("negotiated.cipher", hello::suite_name(c)),
            None => obs.unobserved("negotiated.cipher", "rustls reported no suite"),
        };
        obs.evidence("negotiated_by", "rustls handshake (TLS 1.2/1.3 client)");
        return;
    }
    // rustls could not connect (a legacy-only server): what the server chose for vouch's own
    // highest accepted hello is what an old client would get.
    let best = scans
        .iter()
        .flat_map(|s| s.versions.iter())
        .filter(|(_, r)| r.verdict == Verdict::Accepted)
        .max_by_key(|(p, _)| **p);
    let rustls_error = scans
        .iter()
        .find_map(|s| s.handshake.as_ref().err())
        .map(|f| f.error.clone())
        .unwrap_or_default();
    match best {
        Some((p, r)) => {
            obs.fact("negotiated.protocol", p.as_str());
            match r.suite {
                Some(s) => obs.fact("negotiated.cipher", hello::suite_name(s)),
                None => obs.unobserved("negotiated.cipher", "no suite recorded"),
            };
            obs.evidence(
                "negotiated_by",
                format!("raw {p} hello (rustls could not connect: {rustls_error})"),
            );
        }
        None => {
            let why = format!("no handshake succeeded: {rustls_error}");
            obs.unobserved("negotiated.protocol", why.clone());
            obs.unobserved("negotiated.cipher", why);
        }
    }
}

const CIPHER_FACTS: [&str; 9] = [
    "ciphers.SSLv3",
    "ciphers.TLSv1.0",
    "ciphers.TLSv1.1",
    "ciphers.TLSv1.2",
    "ciphers.TLSv1.3",
    "ciphers.server_preference",
    "ciphers.weak",
    "ciphers.legacy",
    "ciphers.forward_secrecy_all",
];

/// Whether a registry suite is weak: no encryption or authentication worth the name, or a
/// broken cipher or MAC (properties from tls-parser's IANA table, not from names typed here).
fn suite_is_weak(s: &tls_parser::TlsCipherSuite) -> bool {
    use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherKx, TlsCipherMac};
    s.enc == TlsCipherEnc::Null
        || matches!(
            s.enc,
            TlsCipherEnc::Rc4
                | TlsCipherEnc::Des
                | TlsCipherEnc::TripleDes
                | TlsCipherEnc::Idea
                | TlsCipherEnc::Rc2
        )
        || s.mac == TlsCipherMac::HmacMd5
        || s.au == TlsCipherAu::Null && s.kx != TlsCipherKx::Tls13
        || (s.enc != TlsCipherEnc::Null && s.enc_size < 112)
}

/// CBC with a SHA-1 MAC: still interoperable, no longer recommended (Mozilla "old" only).
fn suite_is_legacy(s: &tls_parser::TlsCipherSuite) -> bool {
    s.enc_mode == tls_parser::TlsCipherEncMode::Cbc
        && s.mac == tls_parser::TlsCipherMac::HmacSha1
        && !suite_is_weak(s)
}

fn record_ciphers(obs: &mut Observation, scans: &[AddressScan]) {
    let mut all: Vec<u16> = Vec::new();
    let mut complete = true;
    let mut orders: Vec<bool> = Vec::new();
    for p in Protocol::ALL {
        let key = format!("ciphers.{}", p.as_str());
        let accepted_somewhere = scans.iter().any(|s| {
            s.versions
                .get(&p)
                .is_some_and(|r| r.verdict == Verdict::Accepted)
        });
        let incomplete: Vec<String> = scans
            .iter()
            .filter_map(|s| {
                s.suites.get(&p).and_then(|x| {
                    x.incomplete
                        .as_ref()
                        .map(|why| format!("{}: {why}", s.addr))
                })
            })
            .collect();
        if !incomplete.is_empty() {
            complete = false;
            obs.unobserved(
                &key,
                format!("the enumeration did not finish ({})", incomplete.join("; ")),
            );
            continue;
        }
        let version_open = scans.iter().any(|s| {
            s.versions
                .get(&p)
                .is_some_and(|r| r.verdict == Verdict::Inconclusive)
        });
        if version_open && !accepted_somewhere {
            complete = false;
            obs.unobserved(
                &key,
                format!("{p} was neither proven accepted nor rejected"),
            );
            continue;
        }
        let mut list: Vec<u16> = Vec::new();
        for s in scans {
            if let Some(x) = s.suites.get(&p) {
                for id in &x.accepted {
                    if !list.contains(id) {
                        list.push(*id);
                    }
                }
                if let Some(o) = x.server_order {
                    orders.push(o);
                }
            }
        }
        all.extend(
            list.iter()
                .filter(|id| !all.contains(id))
                .copied()
                .collect::<Vec<_>>(),
        );
        obs.fact(
            &key,
            list.iter()
                .map(|id| hello::suite_name(*id))
                .collect::<Vec<_>>(),
        );
    }
    let props: Vec<(u16, Option<&tls_parser::TlsCipherSuite>)> = all
        .iter()
        .map(|id| (*id, tls_parser::CIPHERS.get(id)))
        .collect();
    let names = |pred: &dyn Fn(&tls_parser::TlsCipherSuite) -> bool| -> Vec<String> {
        props
            .iter()
            .filter(|(_, s)| s.is_some_and(pred))
            .map(|(id, _)| hello::suite_name(*id))
            .collect()
    };
    if complete {
        obs.fact("ciphers.weak", names(&suite_is_weak));
        obs.fact("ciphers.legacy", names(&suite_is_legacy));
        obs.fact(
            "ciphers.forward_secrecy_all",
            props.iter().all(|(_, s)| {
                s.is_some_and(|s| {
                    matches!(
                        s.kx,
                        tls_parser::TlsCipherKx::Ecdhe
                            | tls_parser::TlsCipherKx::Dhe
                            | tls_parser::TlsCipherKx::Tls13
                    )
                })
            }),
        );
    } else {
        for f in [
            "ciphers.weak",
            "ciphers.legacy",
            "ciphers.forward_secrecy_all",
        ] {
            obs.unobserved(f, "the suites of some version are not known");
        }
    }
    obs.fact(
        "ciphers.server_preference",
        if orders.is_empty() {
            Value::Null
        } else {
            Value::Bool(orders.iter().all(|o| *o))
        },
    );
}

/// `groups.accepted`: the union over addresses of the groups of TLS 1.3 and of the highest
/// accepted version below it, unobserved when an enumeration did not finish or one of those
/// versions is undecided at some address.
fn record_groups(obs: &mut Observation, scans: &[AddressScan]) {
    let mut problems: Vec<String> = Vec::new();
    let mut list: Vec<u16> = Vec::new();
    let mut dhe: Option<u16> = None;
    for s in scans {
        for (p, g) in &s.groups {
            if let Some(b) = g.dhe_bits {
                dhe = Some(dhe.map_or(b, |d| d.min(b)));
            }
            if let Some(why) = &g.incomplete {
                problems.push(format!("{} {p}: {why}", s.addr));
            }
            for id in &g.accepted {
                if !list.contains(id) {
                    list.push(*id);
                }
            }
        }
        // A version that may be accepted but was not enumerated could hide groups.
        for p in [
            Protocol::TlsV1_3,
            Protocol::TlsV1_2,
            Protocol::TlsV1_1,
            Protocol::TlsV1_0,
        ] {
            let verdict = s.versions.get(&p).map(|r| r.verdict);
            if verdict == Some(Verdict::Inconclusive) {
                problems.push(format!(
                    "{} {p}: neither proven accepted nor rejected",
                    s.addr
                ));
            }
        }
    }
    if problems.is_empty() {
        obs.fact(
            "groups.accepted",
            list.iter()
                .map(|g| hello::group_name(*g))
                .collect::<Vec<_>>(),
        );
        obs.fact("groups.dhe_min_bits", json!(dhe));
    } else {
        let why = format!(
            "the group enumeration did not finish ({})",
            problems.join("; ")
        );
        obs.unobserved("groups.accepted", why.clone());
        obs.unobserved("groups.dhe_min_bits", why);
    }
}

const CERT_FACTS: [&str; 22] = [
    "certificate.subject",
    "certificate.issuer",
    "certificate.sans",
    "certificate.not_before",
    "certificate.not_after",
    "certificate.days_remaining",
    "certificate.lifetime_days",
    "certificate.key_type",
    "certificate.key_bits",
    "certificate.key_curve",
    "certificate.signature_algorithm",
    "certificate.self_signed",
    "certificate.hostname_matches",
    "certificate.chain_trusted",
    "certificate.valid",
    "certificate.chain_error",
    "certificate.sha256_fingerprint",
    "certificate.ocsp_stapled",
    "certificate.ocsp_status",
    "certificate.ocsp_produced_at",
    "certificate.ocsp_this_update",
    "certificate.ocsp_next_update",
];

/// One served certificate chain at one address, judged on its own.
struct ChainView {
    addr: SocketAddr,
    source: &'static str,
    der: Vec<Vec<u8>>,
    facts: Vec<cert::CertFacts>,
    trusted: Result<Vec<usize>, String>,
    hostname_matches: bool,
    problems: Vec<String>,
}

impl ChainView {
    fn leaf(&self) -> &cert::CertFacts {
        &self.facts[0]
    }
    fn valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judges one chain: trust, the validity periods of the certificates on the path a client builds
/// (every served one when there is no path), the name, the key.
fn judge_chain(
    addr: SocketAddr,
    source: &'static str,
    der: &[Vec<u8>],
    t: &Target,
    trust: &chain::TrustStore,
    now: i64,
) -> Result<ChainView, String> {
    let facts: Vec<cert::CertFacts> = der
        .iter()
        .map(|d| cert::read(d))
        .collect::<Result<_, _>>()?;
    let trusted = chain::chain_trusted(der, &facts, trust);
    let mut problems = Vec::new();
    if let Err(e) = &trusted {
        problems.push(e.clone());
    }
    let on_path: Vec<usize> = match &trusted {
        Ok(path) => path.clone(),
        Err(_) => (0..facts.len()).collect(),
    };
    for i in on_path {
        let f = &facts[i];
        let which = if i == 0 {
            "the certificate".to_string()
        } else {
            format!("chain certificate {i} ({})", f.subject)
        };
        if now > f.not_after {
            problems.push(format!("{which} expired on {}", day(f.not_after)));
        } else if now < f.not_before {
            problems.push(format!("{which} is not valid before {}", day(f.not_before)));
        }
    }
    let leaf = &facts[0];
    let hostname_matches = leaf.matches_host(&t.host);
    if !hostname_matches {
        problems.push(format!(
            "{} is not among the certificate's names ({})",
            t.host,
            leaf.sans().join(", ")
        ));
    }
    if !leaf.key_is_strong() {
        problems.push(format!(
            "{} key of {} bits is below the minimum (RSA 2048, EC 256)",
            leaf.key_type,
            leaf.key_bits
                .map(|b| b.to_string())
                .unwrap_or_else(|| "unknown".into())
        ));
    }
    Ok(ChainView {
        addr,
        source,
        der: der.to_vec(),
        facts,
        trusted,
        hostname_matches,
        problems,
    })
}

/// Certificate facts over every address and every certificate (an RSA and an ECDSA one): the
/// worst is reported. `valid`, `chain_trusted` and `hostname_matches` are false when false
/// anywhere; `days_remaining` and `not_after` are the soonest; the descriptive facts (subject,
/// key, …) are the worst chain's. The evidence keeps every chain.
fn record_certificate(
    obs: &mut Observation,
    t: &Target,
    scans: &[AddressScan],
    trust: &chain::TrustStore,
) {
    let now = jiff::Timestamp::now().as_second();
    let mut views: Vec<ChainView> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for s in scans {
        let (der, source) = s.chain();
        if der.is_empty() {
            let rustls_error = s
                .handshake
                .as_ref()
                .err()
                .map(|f| f.error.clone())
                .unwrap_or_else(|| "no certificate".into());
            missing.push(format!(
                "{} (rustls: {rustls_error}; no accepted TLS ≤ 1.2 hello carried one)",
                s.addr
            ));
            continue;
        }
        for (der, source) in [(der, source), (&s.other_chain[..], OTHER_FAMILY)] {
            if der.is_empty() {
                continue;
            }
            match judge_chain(s.addr, source, der, t, trust, now) {
                Ok(v) => views.push(v),
                Err(e) => missing.push(format!("{}: {e}", s.addr)),
            }
        }
    }
    if views.is_empty() {
        for f in CERT_FACTS {
            obs.unobserved(
                f,
                format!("no certificate was read: {}", missing.join("; ")),
            );
        }
        return;
    }
    let ts = |secs: i64| {
        jiff::Timestamp::from_second(secs)
            .map(|t| Value::String(t.to_string()))
            .unwrap_or(Value::Null)
    };
    // The worst chain: not valid first, then the soonest to expire.
    let worst = views
        .iter()
        .min_by_key(|v| (v.valid(), v.leaf().not_after))
        .expect("views is not empty");
    let leaf = worst.leaf();
    obs.fact("certificate.subject", leaf.subject.clone());
    obs.fact("certificate.issuer", leaf.issuer.clone());
    obs.fact("certificate.sans", leaf.sans());
    obs.fact("certificate.not_before", ts(leaf.not_before));
    let soonest = views
        .iter()
        .map(|v| v.leaf().not_after)
        .min()
        .unwrap_or(leaf.not_after);
    obs.fact("certificate.not_after", ts(soonest));
    let days = views
        .iter()
        .map(|v| v.leaf().days_remaining(now))
        .min()
        .unwrap_or(0);
    obs.fact("certificate.days_remaining", days);
    // Whole days, rounded down (a 90-day certificate issued for 90 days and 1 hour reads 90), the
    // longest over every certificate served: a profile's maximum lifespan holds for each one.
    let lifetime = views
        .iter()
        .map(|v| (v.leaf().not_after - v.leaf().not_before).div_euclid(86_400))
        .max()
        .unwrap_or(0);
    obs.fact("certificate.lifetime_days", lifetime);
    obs.fact("certificate.key_type", leaf.key_type.clone());
    obs.fact("certificate.key_bits", json!(leaf.key_bits));
    obs.fact("certificate.key_curve", json!(leaf.key_curve));
    obs.fact(
        "certificate.signature_algorithm",
        leaf.signature_algorithm.clone(),
    );
    obs.fact("certificate.self_signed", leaf.self_signed);
    obs.fact(
        "certificate.hostname_matches",
        views.iter().all(|v| v.hostname_matches),
    );
    obs.fact(
        "certificate.sha256_fingerprint",
        leaf.sha256_fingerprint.clone(),
    );
    obs.fact(
        "certificate.chain_trusted",
        views.iter().all(|v| v.trusted.is_ok()),
    );
    let several = views.len() > 1;
    let problems: Vec<String> = views
        .iter()
        .flat_map(|v| {
            v.problems.iter().map(move |p| {
                if several {
                    format!(
                        "{p} (at {}, {} {})",
                        v.addr,
                        v.leaf().key_type,
                        short(&v.leaf().sha256_fingerprint)
                    )
                } else {
                    p.clone()
                }
            })
        })
        .collect();
    if missing.is_empty() {
        obs.fact("certificate.valid", problems.is_empty());
        obs.fact(
            "certificate.chain_error",
            if problems.is_empty() {
                Value::Null
            } else {
                Value::String(problems.join("; "))
            },
        );
    } else {
        // An address that showed no certificate cannot be called valid: fail closed.
        let why = format!("no certificate was read at {}", missing.join("; "));
        for f in [
            "certificate.valid",
            "certificate.chain_trusted",
            "certificate.hostname_matches",
            "certificate.days_remaining",
            "certificate.not_after",
            "certificate.lifetime_days",
        ] {
            obs.unobserved(f, why.clone());
        }
        obs.fact(
            "certificate.chain_error",
            Value::String(
                problems
                    .into_iter()
                    .chain([why])
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        );
    }

    obs.evidence("trust_store", trust.description.clone());
    obs.evidence(
        "chain_source",
        format!("{} at {}", worst.source, worst.addr),
    );
    let summary = |v: &ChainView| -> Value {
        Value::Array(
            v.facts
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let on_path = match &v.trusted {
                        Ok(path) => Value::Bool(path.contains(&i)),
                        Err(_) => Value::Null,
                    };
                    json!({"subject": f.subject, "issuer": f.issuer, "not_before": ts(f.not_before),
                       "not_after": ts(f.not_after), "key": format!("{} {}", f.key_type, f.key_bits.unwrap_or(0)),
                       "signature_algorithm": f.signature_algorithm, "sha256": f.sha256_fingerprint,
                       "on_trusted_path": on_path})
                })
                .collect(),
        )
    };
    obs.evidence("chain", summary(worst));
    obs.evidence(
        "certificates",
        Value::Array(
            views
                .iter()
                .map(|v| {
                    json!({"address": v.addr.to_string(), "source": v.source,
                           "valid": v.valid(), "problems": v.problems, "chain": summary(v)})
                })
                .collect(),
        ),
    );
    let fingerprints: Vec<&str> = views
        .iter()
        .filter(|v| v.source != OTHER_FAMILY)
        .map(|v| v.leaf().sha256_fingerprint.as_str())
        .collect();
    if fingerprints.iter().any(|f| *f != fingerprints[0]) {
        obs.evidence("certificate_differs_between_addresses", true);
    }
    obs.attach(
        "certificate.pem",
        "application/x-pem-file",
        cert::pem(&worst.der[0]),
    );
    obs.attach(
        "chain.pem",
        "application/x-pem-file",
        worst.der.iter().map(|d| cert::pem(d)).collect::<String>(),
    );
    if several {
        for (i, v) in views.iter().enumerate() {
            obs.attach(
                &format!(
                    "chain-{}-{}.pem",
                    i + 1,
                    v.addr.to_string().replace([':', '[', ']'], "_")
                ),
                "application/x-pem-file",
                v.der.iter().map(|d| cert::pem(d)).collect::<String>(),
            );
        }
    }
}

const OTHER_FAMILY: &str = "rustls handshake offering only the other signature family";

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

fn day(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

fn address_evidence(s: &AddressScan) -> Value {
    let versions: serde_json::Map<String, Value> = s
        .versions
        .iter()
        .map(|(p, r)| {
            (
                p.as_str().to_string(),
                json!({
                    "verdict": r.verdict.as_str(),
                    "reason": r.reason,
                    "hellos": r.attempts.iter().map(scan::attempt_evidence).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    let handshake = match &s.handshake {
        Ok(h) => json!({
            "protocol": h.protocol.map(|p| p.as_str()),
            "cipher": h.cipher.map(hello::suite_name),
            "certificates": h.chain.len(),
        }),
        Err(f) => json!({"error": f.error, "certificates": f.chain.len()}),
    };
    let groups: serde_json::Map<String, Value> = s
        .groups
        .iter()
        .map(|(p, g)| {
            (
                p.as_str().to_string(),
                json!({
                    "accepted": g.accepted.iter().map(|id| hello::group_name(*id)).collect::<Vec<_>>(),
                    "incomplete": g.incomplete,
                    "no_ecdhe_suite": g.no_ecdhe.then_some(
                        "no ECDHE suite accepted: finite-field DHE groups are not named in TLS <= 1.2"),
                    "dhe_bits": g.dhe_bits,
                    "connections": g.connections,
                }),
            )
        })
        .collect();
    json!({
        "connections": s.connections,
        "versions": versions,
        "groups": groups,
        "handshake": handshake,
        "legacy_certificates": s.legacy_chain.len(),
        "other_family_handshake": s.other_handshake,
    })
}

/// The spot-check table's suites and groups, when they were enumerated (`--ciphers`, or a
/// control that reads them): each accepted version's suites in the order found, weak and legacy
/// ones marked, then the key-exchange groups.
fn render_suites(o: &Observation, out: &mut String) {
    let list = |k: &str| -> Option<Vec<String>> {
        o.facts.get(k)?.as_array().map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
    };
    let versions: Vec<(Protocol, Vec<String>)> = Protocol::ALL
        .into_iter()
        .filter_map(|p| Some((p, list(&format!("ciphers.{}", p.as_str()))?)))
        .filter(|(_, suites)| !suites.is_empty())
        .collect();
    let groups = list("groups.accepted");
    if versions.is_empty() && groups.is_none() {
        return;
    }
    let weak = list("ciphers.weak").unwrap_or_default();
    let legacy = list("ciphers.legacy").unwrap_or_default();
    let order = match o.facts.get("ciphers.server_preference") {
        Some(Value::Bool(true)) => "server's order",
        Some(Value::Bool(false)) => "client's order",
        _ => "order not known",
    };
    let _ = writeln!(out, "\nCipher suites ({order})");
    for (p, suites) in &versions {
        for (i, suite) in suites.iter().enumerate() {
            let mark = if weak.contains(suite) {
                "✗ weak"
            } else if legacy.contains(suite) {
                "! legacy"
            } else {
                "✓"
            };
            let version = if i == 0 { p.as_str() } else { "" };
            let _ = writeln!(out, "  {version:<8} {mark:<8} {suite}");
        }
    }
    if let Some(Value::Bool(all)) = o.facts.get("ciphers.forward_secrecy_all") {
        let _ = writeln!(
            out,
            "  forward secrecy on every suite: {}",
            if *all { "yes" } else { "no" }
        );
    }
    if let Some(groups) = groups {
        let dhe = match o.facts.get("groups.dhe_min_bits").and_then(Value::as_i64) {
            Some(bits) => format!(" · DHE prime {bits} bits"),
            None => String::new(),
        };
        let _ = writeln!(out, "  groups   {}{dhe}", groups.join(", "));
    }
}

/// The spot-check table.
fn render(o: &Observation) -> String {
    let mut out = String::new();
    let fact = |k: &str| o.facts.get(k);
    let text = |k: &str| -> String {
        match o.facts.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) => "none".into(),
            Some(v) => v.to_string(),
            None => "?".into(),
        }
    };
    let _ = writeln!(out, "TLS  {}", o.target);
    if let Some(Value::Object(addrs)) = o.evidence.get("addresses") {
        let list: Vec<&String> = addrs.keys().collect();
        let _ = writeln!(
            out,
            "  addresses  {}",
            list.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(line) = starttls::render(o) {
        let _ = writeln!(out, "  starttls   {line}");
    }
    let _ = writeln!(out, "\nProtocol versions");
    for p in Protocol::ALL {
        let key = format!("versions.{}", p.as_str());
        let verdict = fact(&key).and_then(Value::as_str).unwrap_or("?");
        let mark = match verdict {
            "accepted" => "✓",
            "rejected" => "✗",
            _ => "?",
        };
        let reason = o
            .evidence
            .get("versions")
            .and_then(|v| v.get(p.as_str()))
            .and_then(|v| v.get("reason"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let _ = writeln!(out, "  {mark} {:<8} {:<13} {reason}", p.as_str(), verdict);
    }
    let lowest = match (
        fact("protocols.lowest"),
        o.unobserved.get("protocols.lowest"),
    ) {
        (Some(_), _) => text("protocols.lowest"),
        (None, Some(why)) => format!("? ({why})"),
        _ => "?".into(),
    };
    let _ = writeln!(
        out,
        "  lowest {lowest} · highest {}",
        text("protocols.highest")
    );
    let _ = writeln!(
        out,
        "  negotiated {} {}",
        text("negotiated.protocol"),
        text("negotiated.cipher")
    );
    render_suites(o, &mut out);
    let _ = writeln!(out, "\nCertificate");
    if fact("certificate.subject").is_none() {
        let why = o
            .unobserved
            .get("certificate.subject")
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(out, "  not read: {why}");
        return out;
    }
    let sans = match fact("certificate.sans") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let days = fact("certificate.days_remaining")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let days_text = if days < 0 {
        format!("expired {} days ago", -days)
    } else {
        format!("{days} days left")
    };
    let key = match fact("certificate.key_curve") {
        Some(Value::String(c)) => format!("{} {c}", text("certificate.key_type")),
        _ => format!(
            "{} {} bits",
            text("certificate.key_type"),
            text("certificate.key_bits")
        ),
    };
    let yes = |k: &str, y: &str, n: &str| -> String {
        match fact(k) {
            Some(Value::Bool(true)) => format!("✓ {y}"),
            Some(Value::Bool(false)) => format!("✗ {n}"),
            _ => "?".into(),
        }
    };
    let rows = [
        ("subject", text("certificate.subject")),
        ("issuer", text("certificate.issuer")),
        ("names", sans),
        (
            "validity",
            format!(
                "{} → {} ({days_text})",
                text("certificate.not_before"),
                text("certificate.not_after")
            ),
        ),
        ("key", key),
        ("signature", text("certificate.signature_algorithm")),
        (
            "hostname",
            yes("certificate.hostname_matches", "matches", "does not match"),
        ),
        (
            "chain",
            yes("certificate.chain_trusted", "trusted", "not trusted"),
        ),
        ("verdict", yes("certificate.valid", "valid", "not valid")),
        ("sha256", text("certificate.sha256_fingerprint")),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<10} {v}");
    }
    if let Some(Value::String(e)) = fact("certificate.chain_error") {
        let _ = writeln!(out, "  {:<10} {e}", "why");
    }
    let _ = writeln!(out, "  {:<10} {}", "ocsp", ocsp::render(o));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_in_every_documented_form() {
        let t = |s: &str| parse_target(s).map(|t| (t.host, t.port));
        assert_eq!(t("example.com"), Ok(("example.com".into(), 443)));
        assert_eq!(t("Example.com:8443"), Ok(("example.com".into(), 8443)));
        assert_eq!(t("https://example.com"), Ok(("example.com".into(), 443)));
        assert_eq!(
            t("https://example.com:9443/path?q"),
            Ok(("example.com".into(), 9443))
        );
        assert_eq!(t("127.0.0.1:8443"), Ok(("127.0.0.1".into(), 8443)));
        assert_eq!(t("[::1]"), Ok(("::1".into(), 443)));
        assert_eq!(t("[::1]:8443"), Ok(("::1".into(), 8443)));
        assert!(t("http://example.com").is_err());
        assert!(t("example.com:http").is_err());
        assert!(t("example.com:0").is_err());
        assert!(t("").is_err());
        assert!(t("[::1").is_err());
        assert!(t("exa mple.com").is_err());
    }

    fn synthetic(addr: &str, verdicts: [Verdict; 5]) -> AddressScan {
        AddressScan {
            addr: addr.parse().unwrap(),
            versions: Protocol::ALL
                .into_iter()
                .zip(verdicts)
                .map(|(p, verdict)| {
                    let result = scan::VersionResult {
                        verdict,
                        reason: format!("{} at {addr}", verdict.as_str()),
                        attempts: vec![],
                        suite: None,
                        implies: None,
                    };
                    (p, result)
                })
                .collect(),
            handshake: Err(chain::HandshakeFailure {
                error: "synthetic".into(),
                chain: vec![],
                connect_failed: false,
            }),
            legacy_chain: vec![],
            other_chain: vec![],
            other_handshake: None,
            suites: BTreeMap::new(),
            groups: BTreeMap::new(),
            connections: 0,
        }
    }

    #[test]
    fn facts_aggregate_over_addresses_union_of_accepted_and_minimum_lowest() {
        use Verdict::*;
        let a = synthetic(
            "192.0.2.1:443",
            [Rejected, Accepted, Rejected, Rejected, Rejected],
        );
        let b = synthetic(
            "[2001:db8::1]:443",
            [Rejected, Rejected, Rejected, Accepted, Rejected],
        );
        let mut o = Observation::new("tls", "app.example.com");
        record_versions(&mut o, &[a, b]);
        assert_eq!(o.facts["protocols.accepted"], json!(["TLSv1.0", "TLSv1.2"]));
        assert_eq!(
            o.facts["protocols.rejected"],
            json!(["SSLv3", "TLSv1.1", "TLSv1.3"])
        );
        assert_eq!(o.facts["protocols.lowest"], "TLSv1.0");
        assert_eq!(o.facts["protocols.highest"], "TLSv1.2");
        assert!(
            o.evidence["versions"]["TLSv1.0"]["reason"]
                .as_str()
                .unwrap()
                .contains("192.0.2.1")
        );
    }

    #[test]
    fn lowest_is_unobserved_when_a_lower_version_is_inconclusive_anywhere() {
        use Verdict::*;
        let a = synthetic(
            "192.0.2.1:443",
            [Rejected, Rejected, Rejected, Accepted, Accepted],
        );
        let b = synthetic(
            "192.0.2.2:443",
            [Rejected, Inconclusive, Rejected, Accepted, Accepted],
        );
        let mut o = Observation::new("tls", "app.example.com");
        record_versions(&mut o, &[a, b]);
        assert!(!o.facts.contains_key("protocols.lowest"));
        let why = &o.unobserved["protocols.lowest"];
        assert!(
            why.contains("TLSv1.0") && why.contains("192.0.2.2"),
            "{why}"
        );
        assert_eq!(o.facts["versions.TLSv1.0"], "inconclusive");
        assert_eq!(o.facts["protocols.highest"], "TLSv1.3");
        // Prevents `protocols.accepted not in [TLSv1.0, …]` passing on an unanswered TLS 1.0.
        assert!(!o.facts.contains_key("protocols.accepted"));
        assert!(!o.facts.contains_key("protocols.rejected"));
        assert!(o.unobserved["protocols.accepted"].contains("TLSv1.0"));
        assert_eq!(o.facts["protocols.inconclusive"], json!(["TLSv1.0"]));
    }

    #[test]
    fn nothing_accepted_and_everything_rejected_is_an_observed_null() {
        let a = synthetic("192.0.2.1:443", [Verdict::Rejected; 5]);
        let mut o = Observation::new("tls", "app.example.com");
        record_versions(&mut o, &[a]);
        assert_eq!(o.facts["protocols.lowest"], Value::Null);
    }

    #[test]
    fn every_fact_is_declared_once() {
        let mut paths: Vec<&str> = FACTS.iter().map(|f| f.path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), FACTS.len());
        for f in CERT_FACTS {
            assert!(paths.contains(&f), "{f}");
        }
        // Every certificate fact is marked unobserved when no certificate is read.
        for f in paths.iter().filter(|p| p.starts_with("certificate.")) {
            assert!(CERT_FACTS.contains(f), "{f}");
        }
    }
}
