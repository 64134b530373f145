//! One address, every version: raw hellos and one rustls handshake, bounded in connections and
//! time.
//!
//! Each version gets one fresh TCP connection and one hello (two when the first list of suites is
//! refused in any way: the server may just share none of them). The verdict rules are strict so
//! that a version is never called rejected on weak grounds (docs/probe-tls.md has the table):
//! - `accepted`: a ServerHello (or HelloRetryRequest) with exactly that version and an offered
//!   suite, or a lower version W's ServerHello to a higher hello, which proves W accepted;
//! - `rejected`: an alert, a close or a reset in answer to the hello (a close or reset is asked
//!   again, alone, once the address has accepted a hello: a connection cap looks the same), or a
//!   ServerHello at a lower version (RFC 5246 §7.4.1.3 and E.1, RFC 8446 §4.1.3 and D: the server
//!   answers with its highest version up to the client's);
//! - `inconclusive`: no answer in time, a higher version than asked, a misplaced TLS 1.3
//!   downgrade sentinel, a suite never offered, bytes that are not TLS, or no connection at all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::chain::{self, Handshake, HandshakeFailure};
use super::hello::{self, Hello};
use super::reply::{self, MAX_REPLY_BYTES, Reply, Want};
use crate::expect::Protocol;

/// The verdict on one version at one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Accepted,
    Rejected,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// What happened to one hello on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Reply(Reply),
    /// The server closed the connection without a word.
    Closed,
    /// The server reset the connection.
    Reset,
    /// No settled answer in time; `received` bytes had arrived.
    Timeout {
        received: usize,
    },
    /// No TCP connection (refused, timed out, host unreachable).
    ConnectFailed(String),
    /// No route from this machine to the address (ENETUNREACH, EADDRNOTAVAIL: IPv6 on a host
    /// without it): the scanner's limit, not the server's.
    NoRoute(String),
}

impl Outcome {
    /// An answer that refuses the hello: an alert, a close or a reset.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Outcome::Reply(Reply::Alert { .. }) | Outcome::Closed | Outcome::Reset
        )
    }

    /// A refusal without a word (a close or a reset), which a connection cap also produces (as
    /// it does a failed connect).
    pub fn is_silent_refusal(&self) -> bool {
        matches!(self, Outcome::Closed | Outcome::Reset)
    }
}

/// One hello and its answer, as evidence.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub hello_bytes: usize,
    pub suites: usize,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// The verdict on one version, with the hellos behind it.
#[derive(Clone, Debug)]
pub struct VersionResult {
    pub verdict: Verdict,
    pub reason: String,
    pub attempts: Vec<Attempt>,
    /// The suite the server chose, when accepted.
    pub suite: Option<u16>,
    /// A lower version and suite the server chose for this hello: proof that it accepts them.
    pub implies: Option<(Protocol, u16)>,
}

/// Everything learnt about one address.
#[derive(Debug)]
pub struct AddressScan {
    pub addr: SocketAddr,
    pub versions: BTreeMap<Protocol, VersionResult>,
    pub handshake: Result<Handshake, HandshakeFailure>,
    /// The chain from a plaintext Certificate message of an accepted TLS ≤ 1.2 hello.
    pub legacy_chain: Vec<Vec<u8>>,
    /// A second certificate of another key family (RSA beside ECDSA), from a handshake offering
    /// only the other family's signature schemes; empty when the server has one certificate.
    pub other_chain: Vec<Vec<u8>>,
    /// What that second handshake showed, in words (evidence).
    pub other_handshake: Option<String>,
    /// The suites of each accepted version, when they were asked for.
    pub suites: BTreeMap<Protocol, SuiteScan>,
    /// The key-exchange groups of TLS 1.3 and of the highest accepted version below it, when
    /// they were asked for.
    pub groups: BTreeMap<Protocol, GroupScan>,
    pub connections: usize,
}

impl AddressScan {
    /// True when no connection of any kind could be made.
    pub fn unreachable(&self) -> bool {
        matches!(&self.handshake, Err(f) if f.connect_failed)
            && self.versions.values().all(|v| {
                v.attempts
                    .iter()
                    .all(|a| matches!(a.outcome, Outcome::ConnectFailed(_) | Outcome::NoRoute(_)))
            })
    }

    /// Why this machine has no route to the address, when every hello found none.
    pub fn no_route(&self) -> Option<String> {
        let mut reasons = self
            .versions
            .values()
            .flat_map(|v| v.attempts.iter())
            .map(|a| match &a.outcome {
                Outcome::NoRoute(e) => Some(e.clone()),
                _ => None,
            });
        let first = reasons.next()??;
        reasons.all(|r| r.is_some()).then_some(first)
    }

    /// The served chain: from rustls when it got one, else from a legacy hello.
    pub fn chain(&self) -> (&[Vec<u8>], &'static str) {
        match &self.handshake {
            Ok(h) if !h.chain.is_empty() => (&h.chain, "rustls handshake"),
            Err(f) if !f.chain.is_empty() => (&f.chain, "rustls handshake (failed later)"),
            _ => (
                &self.legacy_chain,
                "plaintext Certificate message of a raw hello",
            ),
        }
    }
}

/// Time limits for one address.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Nothing is started after this, and everything stops by it.
    pub deadline: Instant,
    /// Connect + hello + reply, for one connection.
    pub per_connection: Duration,
}

/// Probes every version at `addr` (SNI `name`) and runs one rustls handshake, at most
/// `max_connections` connections at a time.
pub async fn scan_address(
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    max_connections: usize,
    ciphers: bool,
    groups: bool,
) -> AddressScan {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Most telling first: the permits are granted in this order.
    let order = [
        Protocol::TlsV1_3,
        Protocol::TlsV1_2,
        Protocol::TlsV1_1,
        Protocol::TlsV1_0,
        Protocol::SslV3,
    ];
    let handshake = {
        let permits = permits.clone();
        let connections = connections.clone();
        async move {
            let Ok(_permit) = permits.acquire().await else {
                return Err(HandshakeFailure {
                    error: "cancelled".into(),
                    chain: vec![],
                    connect_failed: false,
                });
            };
            let left = budget.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HandshakeFailure {
                    error: "not attempted: the time budget was spent".into(),
                    chain: vec![],
                    connect_failed: false,
                });
            }
            connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            chain::handshake(
                addr,
                name,
                budget.per_connection.min(left),
                chain::Schemes::All,
            )
            .await
        }
    };
    let versions = futures::future::join_all(order.iter().map(|&v| {
        let permits = permits.clone();
        let connections = connections.clone();
        async move {
            (
                v,
                probe_version(v, addr, name, budget, &permits, &connections).await,
            )
        }
    }));
    let (handshake, versions) = tokio::join!(handshake, versions);
    let mut legacy_chain = Vec::new();
    let mut results = BTreeMap::new();
    for (v, (result, certs)) in versions {
        if legacy_chain.is_empty() && !certs.is_empty() {
            legacy_chain = certs;
        }
        results.insert(v, result);
    }
    // A close or a reset is what a connection cap looks like too: once the address has accepted
    // a hello (or a handshake), each such rejection is asked again, one at a time.
    let answered = handshake.is_ok() || results.values().any(|r| r.verdict == Verdict::Accepted);
    let silenced = |r: &VersionResult| {
        r.verdict != Verdict::Accepted
            && r.attempts.iter().any(|a| {
                a.outcome.is_silent_refusal() || matches!(a.outcome, Outcome::ConnectFailed(_))
            })
    };
    if answered && results.values().any(silenced) {
        // One connection at a time, each after a pause: a capped server frees a slot only once
        // it has seen the earlier connection close.
        let alone = Semaphore::new(1);
        let pace = Duration::from_millis(150)
            .min(budget.deadline.saturating_duration_since(Instant::now()) / 8);
        for v in order {
            if !results.get(&v).is_some_and(silenced) {
                continue;
            }
            let (mut again, certs) =
                probe_version_paced(v, addr, name, budget, &alone, &connections, pace).await;
            if legacy_chain.is_empty() && !certs.is_empty() {
                legacy_chain = certs;
            }
            let before = results.remove(&v).map(|r| r.attempts).unwrap_or_default();
            if again.verdict == Verdict::Rejected
                && again
                    .attempts
                    .last()
                    .is_some_and(|a| a.outcome.is_silent_refusal())
            {
                again.reason = format!(
                    "{} (the same when re-tested after an accepted hello)",
                    again.reason
                );
            } else {
                again.reason = format!(
                    "{} (re-tested: the first hello was closed or reset, as a connection cap does)",
                    again.reason
                );
            }
            again.attempts.splice(0..0, before);
            results.insert(v, again);
        }
    }
    // A lower version chosen for a higher hello proves the lower one accepted, even when its own
    // hello got no answer.
    let implied: Vec<(Protocol, Protocol, u16)> = results
        .iter()
        .filter_map(|(v, r)| r.implies.map(|(lower, suite)| (*v, lower, suite)))
        .collect();
    for (asked, lower, suite) in implied {
        if let Some(r) = results.get_mut(&lower) {
            if r.verdict == Verdict::Inconclusive {
                r.reason = format!(
                    "ServerHello {lower} {} in answer to the {asked} hello (its own hello: {})",
                    hello::suite_name(suite),
                    r.reason
                );
                r.verdict = Verdict::Accepted;
                r.suite = Some(suite);
            } else if r.verdict == Verdict::Rejected {
                r.reason = format!(
                    "contradictory: its own hello was refused ({}), yet the server chose {lower} {} for the {asked} hello",
                    r.reason,
                    hello::suite_name(suite)
                );
                r.verdict = Verdict::Inconclusive;
            }
        }
    }
    // A server may hold an RSA and an ECDSA certificate and pick by the client's signature
    // schemes: one more handshake offering only the other family shows the second one.
    let (mut other_chain, mut other_handshake) = (Vec::new(), None);
    if let Ok(h) = &handshake {
        if let Some(Ok(leaf)) = h.chain.first().map(|d| super::cert::read(d)) {
            let (schemes, family) = if leaf.key_type == "RSA" {
                (chain::Schemes::NotRsa, "ECDSA/EdDSA")
            } else {
                (chain::Schemes::RsaOnly, "RSA")
            };
            let left = budget.deadline.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                if let Ok(_permit) = permits.acquire().await {
                    connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let second =
                        chain::handshake(addr, name, budget.per_connection.min(left), schemes)
                            .await;
                    other_handshake = Some(match second {
                        Ok(h2) if h2.chain.first() != h.chain.first() && !h2.chain.is_empty() => {
                            other_chain = h2.chain;
                            format!(
                                "a second certificate, served to a client offering only {family} signatures"
                            )
                        }
                        Ok(_) => format!(
                            "the same certificate to a client offering only {family} signatures"
                        ),
                        Err(f) => format!(
                            "no handshake offering only {family} signatures: {}",
                            f.error
                        ),
                    });
                }
            }
        }
    }
    let mut suites = BTreeMap::new();
    if ciphers {
        let accepted: Vec<Protocol> = results
            .iter()
            .filter(|(_, r)| r.verdict == Verdict::Accepted)
            .map(|(p, _)| *p)
            .collect();
        let found = futures::future::join_all(accepted.iter().map(|&v| {
            let permits = permits.clone();
            async move { (v, enumerate_suites(v, addr, name, budget, &permits).await) }
        }))
        .await;
        for (v, scan) in found {
            connections.fetch_add(scan.connections, std::sync::atomic::Ordering::Relaxed);
            suites.insert(v, scan);
        }
    }
    let mut group_scans = BTreeMap::new();
    if groups {
        let versions = group_versions(&results);
        let found = futures::future::join_all(versions.iter().map(|&v| {
            let permits = permits.clone();
            async move { (v, enumerate_groups(v, addr, name, budget, &permits).await) }
        }))
        .await;
        for (v, scan) in found {
            connections.fetch_add(scan.connections, std::sync::atomic::Ordering::Relaxed);
            group_scans.insert(v, scan);
        }
    }
    AddressScan {
        addr,
        versions: results,
        handshake,
        legacy_chain,
        other_chain,
        other_handshake,
        suites,
        groups: group_scans,
        connections: connections.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// One version: the first hello, and the retry with the disjoint list when the first is refused
/// in any way (an alert, a close, a reset: the server may just share none of the first list).
async fn probe_version(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
    connections: &std::sync::atomic::AtomicUsize,
) -> (VersionResult, Vec<Vec<u8>>) {
    probe_version_paced(
        version,
        addr,
        name,
        budget,
        permits,
        connections,
        Duration::ZERO,
    )
    .await
}

/// [`probe_version`], waiting `pace` before each connection.
async fn probe_version_paced(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
    connections: &std::sync::atomic::AtomicUsize,
    pace: Duration,
) -> (VersionResult, Vec<Vec<u8>>) {
    let (first, second) = hello::suite_lists(version);
    let lists: Vec<Vec<u16>> = [first, second]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    let mut attempts = Vec::new();
    for (i, suites) in lists.iter().enumerate() {
        let hello = hello::client_hello(version, suites, Some(name));
        let started = Instant::now();
        let outcome = {
            let Ok(_permit) = permits.acquire().await else {
                break;
            };
            if !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
            let left = budget.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let result = VersionResult {
                    verdict: Verdict::Inconclusive,
                    reason: "not tried: the time budget was spent on other hellos".into(),
                    attempts,
                    suite: None,
                    implies: None,
                };
                return (result, vec![]);
            }
            connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let limit = Instant::now() + budget.per_connection.min(left);
            let want = if version == Protocol::TlsV1_3 {
                Want::Hello
            } else {
                Want::Certificate
            };
            send_hello(addr, &hello, want, limit).await
        };
        attempts.push(Attempt {
            hello_bytes: hello.bytes.len(),
            suites: hello.suites.len(),
            outcome: outcome.clone(),
            elapsed: started.elapsed(),
        });
        if outcome.is_refusal() && i + 1 < lists.len() {
            continue; // the server may share none of the first list: ask with the second
        }
        let judged = judge(version, &hello, outcome);
        let result = VersionResult {
            verdict: judged.verdict,
            reason: judged.reason,
            attempts,
            suite: judged.suite,
            implies: judged.implies,
        };
        return (result, judged.certificates);
    }
    // Only reached when the permits were closed.
    (
        VersionResult {
            verdict: Verdict::Inconclusive,
            reason: "not tried".into(),
            attempts,
            suite: None,
            implies: None,
        },
        vec![],
    )
}

fn level_name(level: u8) -> &'static str {
    match level {
        1 => "warning",
        2 => "fatal",
        _ => "unknown-level",
    }
}

/// What one answer says about the version asked for.
struct Judged {
    verdict: Verdict,
    reason: String,
    suite: Option<u16>,
    implies: Option<(Protocol, u16)>,
    certificates: Vec<Vec<u8>>,
}

fn version_name(wire: u16) -> String {
    Protocol::from_wire(wire)
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| format!("0x{wire:04x}"))
}

/// Applies the verdict rules to one answer.
fn judge(version: Protocol, hello: &Hello, outcome: Outcome) -> Judged {
    use Verdict::*;
    let plain = |verdict: Verdict, reason: String| Judged {
        verdict,
        reason,
        suite: None,
        implies: None,
        certificates: vec![],
    };
    match outcome {
        Outcome::Reply(Reply::ServerHello {
            version: chosen,
            suite,
            retry_request,
            certificates,
            downgrade_sentinel,
            ..
        }) => {
            let what = if retry_request {
                "HelloRetryRequest"
            } else {
                "ServerHello"
            };
            let chosen_name = version_name(chosen);
            // RFC 8446 §4.1.3: DOWNGRD\x01 only in a TLS 1.2 ServerHello, DOWNGRD\x00 only in a
            // TLS 1.1-or-lower one, and neither from a server that will not speak TLS 1.3 to a
            // client that offered only TLS 1.3.
            if let Some(s) = downgrade_sentinel {
                let fits = (s == 1 && chosen == 0x0303) || (s == 0 && chosen <= 0x0302);
                if !fits || version == Protocol::TlsV1_3 {
                    return plain(
                        Inconclusive,
                        format!(
                            "the {chosen_name} {what} that answered the {version} hello carries the TLS 1.3 downgrade sentinel DOWNGRD\\x0{s}, where RFC 8446 §4.1.3 forbids it: a contradictory answer proves nothing"
                        ),
                    );
                }
            }
            if !hello.suites.contains(&suite) {
                return plain(
                    Inconclusive,
                    format!(
                        "the server answered with a {chosen_name} {what} choosing {}, a suite that was not offered",
                        hello::suite_name(suite)
                    ),
                );
            }
            match Protocol::from_wire(chosen) {
                Some(p) if p == version => Judged {
                    verdict: Accepted,
                    reason: format!("{what} {version} {}", hello::suite_name(suite)),
                    suite: Some(suite),
                    implies: None,
                    certificates,
                },
                // RFC 5246 §7.4.1.3 and E.1, RFC 8446 §4.1.3 and D: a server answers with the
                // highest version it supports up to the client's; a lower answer means the asked
                // version is not supported.
                Some(lower) if lower < version => {
                    let (first, second) = hello::suite_lists(lower);
                    let valid_there = first.contains(&suite) || second.contains(&suite);
                    Judged {
                        verdict: Rejected,
                        reason: format!(
                            "server's highest is {lower}: it answered the {version} hello with a {lower} {what} ({}), RFC 5246 E.1 / RFC 8446 D",
                            hello::suite_name(suite)
                        ),
                        suite: None,
                        implies: valid_there.then_some((lower, suite)),
                        certificates: if valid_there { certificates } else { vec![] },
                    }
                }
                Some(higher) => plain(
                    Inconclusive,
                    format!(
                        "the server answered the {version} hello with a higher version, {higher}, which no client may accept (RFC 5246 §7.4.1.3): the answer proves nothing about {version}"
                    ),
                ),
                None => plain(
                    Inconclusive,
                    format!(
                        "the server answered the {version} hello with an unknown version {chosen_name}"
                    ),
                ),
            }
        }
        Outcome::Reply(Reply::Alert { level, description }) => plain(
            Rejected,
            format!(
                "refused with {} alert {}",
                level_name(level),
                reply::alert_name(description)
            ),
        ),
        Outcome::Reply(Reply::NotTls { reason }) => plain(Inconclusive, reason),
        Outcome::Closed => plain(
            Rejected,
            "the server closed the connection after the hello".into(),
        ),
        Outcome::Reset => plain(
            Rejected,
            "the server reset the connection after the hello".into(),
        ),
        Outcome::Timeout { received } => plain(
            Inconclusive,
            if received == 0 {
                "no answer in time".into()
            } else {
                format!("no complete answer in time ({received} bytes received)")
            },
        ),
        Outcome::ConnectFailed(e) | Outcome::NoRoute(e) => plain(Inconclusive, e),
    }
}

/// The suites one version accepts at one address.
#[derive(Clone, Debug, Default)]
pub struct SuiteScan {
    /// Accepted suites, in the order the server chose them (its preference when it has one).
    pub accepted: Vec<u16>,
    /// Whether the server chose by its own order (`None`: fewer than two suites to compare, or
    /// not settled).
    pub server_order: Option<bool>,
    /// Why the enumeration is incomplete, when it is.
    pub incomplete: Option<String>,
    pub connections: usize,
}

/// Enumerates the suites `version` accepts: a hello with every usable suite, then again without
/// each suite the server chose, until it refuses (N+1 connections for N suites; TLS 1.2's
/// registry list is asked in two halves). One more hello with the first two accepted suites
/// swapped says whether the server enforces its own order.
pub async fn enumerate_suites(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
) -> SuiteScan {
    let (first, second) = hello::suite_lists(version);
    let mut chunks: Vec<Vec<u16>> = [first, second]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect();
    let mut out = SuiteScan::default();
    let ask = |suites: Vec<u16>| async move {
        let hello = hello::client_hello(version, &suites, Some(name));
        let _permit = permits.acquire().await.ok()?;
        let left = budget.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let limit = Instant::now() + budget.per_connection.min(left);
        Some((
            hello.suites.clone(),
            send_hello(addr, &hello, Want::Hello, limit).await,
        ))
    };
    while let Some(chunk) = chunks.first().cloned() {
        if chunk.is_empty() {
            chunks.remove(0);
            continue;
        }
        out.connections += 1;
        let Some((offered, outcome)) = ask(chunk).await else {
            out.incomplete = Some("the time budget ran out".into());
            return out;
        };
        match outcome {
            Outcome::Reply(Reply::ServerHello {
                version: chosen,
                suite,
                ..
            }) if chosen == version.wire() && offered.contains(&suite) => {
                out.accepted.push(suite);
                chunks[0].retain(|s| *s != suite);
            }
            o if o.is_refusal() => {
                chunks.remove(0);
            }
            o => {
                out.incomplete = Some(format!(
                    "an answer that is neither a choice nor a refusal: {}",
                    attempt_evidence(&Attempt {
                        hello_bytes: 0,
                        suites: 0,
                        outcome: o,
                        elapsed: Duration::ZERO,
                    })["reply"]
                ));
                return out;
            }
        }
    }
    if let [a, b, ..] = out.accepted[..] {
        out.connections += 1;
        if let Some((_, Outcome::Reply(Reply::ServerHello { suite, .. }))) = ask(vec![b, a]).await {
            out.server_order = Some(suite == a);
        }
    }
    out
}

/// The versions whose key-exchange groups are enumerated: TLS 1.3 when accepted (the groups
/// of its key shares), and the highest accepted version below it (the curves of its ECDHE
/// suites). Servers configure one group list for all versions ≤ 1.2, so asking the highest
/// one is enough.
pub fn group_versions(results: &BTreeMap<Protocol, VersionResult>) -> Vec<Protocol> {
    let accepted = |p: &Protocol| {
        results
            .get(p)
            .is_some_and(|r| r.verdict == Verdict::Accepted)
    };
    let mut out = Vec::new();
    if accepted(&Protocol::TlsV1_3) {
        out.push(Protocol::TlsV1_3);
    }
    if let Some(p) = [Protocol::TlsV1_2, Protocol::TlsV1_1, Protocol::TlsV1_0]
        .into_iter()
        .find(accepted)
    {
        out.push(p);
    }
    out
}

/// The key-exchange groups one version accepts at one address.
#[derive(Clone, Debug, Default)]
pub struct GroupScan {
    /// Accepted groups (IANA code points), in the order the server chose them.
    pub accepted: Vec<u16>,
    /// Why the enumeration is incomplete, when it is.
    pub incomplete: Option<String>,
    /// For TLS ≤ 1.2: the server accepted the version but no ECDHE suite, so it has no named
    /// curve to report (its finite-field DHE groups are not named on the wire).
    pub no_ecdhe: bool,
    /// For TLS ≤ 1.2: the size of the finite-field DHE prime the server uses with a client that
    /// names no ffdhe group (`None`: it accepts no DHE suite).
    pub dhe_bits: Option<u16>,
    pub connections: usize,
}

/// Enumerates the groups `version` accepts, the way suites are: a hello offering every group of
/// the registry, then again without each group the server picked, until it refuses (N+1
/// connections for N groups). TLS 1.3 names the group in the ServerHello's key share or the
/// HelloRetryRequest's selected_group (RFC 8446 §4.2.8); TLS ≤ 1.2 names it in the ECDHE
/// ServerKeyExchange (RFC 8422 §5.4), so those hellos offer only ECDHE suites, and the flight
/// is read up to the ServerKeyExchange.
pub async fn enumerate_groups(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
) -> GroupScan {
    let mut out = named_groups(version, addr, name, budget, permits).await;
    if version != Protocol::TlsV1_3 && out.incomplete.is_none() {
        dhe_size(version, addr, name, budget, permits, &mut out).await;
    }
    out
}

/// TLS ≤ 1.2 finite-field DHE: one hello offering only the DHE suites and no ffdhe group (as an
/// old client does), so the server uses the parameters it gives anyone; their prime's size is
/// what Mozilla's `dh_param_size` bounds.
async fn dhe_size(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
    out: &mut GroupScan,
) {
    let suites: Vec<u16> = {
        let (first, second) = hello::suite_lists(version);
        first
            .into_iter()
            .chain(second)
            .filter(|id| {
                tls_parser::CIPHERS.get(id).is_some_and(|s| {
                    s.kx == tls_parser::TlsCipherKx::Dhe && !s.name.contains("PSK")
                })
            })
            .take(hello::MAX_SUITES_PER_HELLO - 1)
            .collect()
    };
    let groups: Vec<u16> = hello::GROUPS
        .iter()
        .copied()
        .filter(|g| !(0x0100..=0x01ff).contains(g))
        .collect();
    let hello = hello::client_hello_with_groups(version, &suites, Some(name), &groups);
    let Ok(_permit) = permits.acquire().await else {
        out.incomplete = Some("cancelled".into());
        return;
    };
    let time = budget.deadline.saturating_duration_since(Instant::now());
    if time.is_zero() {
        out.incomplete = Some("the time budget ran out".into());
        return;
    }
    out.connections += 1;
    let limit = Instant::now() + budget.per_connection.min(time);
    match send_hello(addr, &hello, Want::KeyExchange, limit).await {
        Outcome::Reply(Reply::ServerHello {
            version: chosen,
            suite,
            dh_bits: Some(bits),
            ..
        }) if chosen == version.wire() && hello.suites.contains(&suite) => {
            out.dhe_bits = Some(bits);
        }
        o if o.is_refusal() => {}
        o => {
            out.incomplete = Some(format!(
                "the DHE hello got an answer that is neither DHE parameters nor a refusal: {}",
                attempt_evidence(&Attempt {
                    hello_bytes: 0,
                    suites: 0,
                    outcome: o,
                    elapsed: Duration::ZERO,
                })["reply"]
            ));
        }
    }
}

/// The named groups of [`enumerate_groups`].
async fn named_groups(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
) -> GroupScan {
    let suites: Vec<u16> = {
        let (first, second) = hello::suite_lists(version);
        first
            .into_iter()
            .chain(second)
            .filter(|id| {
                version == Protocol::TlsV1_3
                    || tls_parser::CIPHERS.get(id).is_some_and(|s| {
                        matches!(
                            s.kx,
                            tls_parser::TlsCipherKx::Ecdhe | tls_parser::TlsCipherKx::Aecdh
                        ) && !s.name.contains("PSK")
                    })
            })
            .take(hello::MAX_SUITES_PER_HELLO - 1)
            .collect()
    };
    let want = if version == Protocol::TlsV1_3 {
        Want::Hello
    } else {
        Want::KeyExchange
    };
    let mut left: Vec<u16> = hello::GROUPS.to_vec();
    let mut out = GroupScan::default();
    while !left.is_empty() {
        let hello = hello::client_hello_with_groups(version, &suites, Some(name), &left);
        let outcome = {
            let Ok(_permit) = permits.acquire().await else {
                out.incomplete = Some("cancelled".into());
                return out;
            };
            let time = budget.deadline.saturating_duration_since(Instant::now());
            if time.is_zero() {
                out.incomplete = Some("the time budget ran out".into());
                return out;
            }
            out.connections += 1;
            let limit = Instant::now() + budget.per_connection.min(time);
            send_hello(addr, &hello, want, limit).await
        };
        match outcome {
            Outcome::Reply(Reply::ServerHello {
                version: chosen,
                suite,
                group,
                ..
            }) if chosen == version.wire() && hello.suites.contains(&suite) => match group {
                Some(g) if left.contains(&g) => {
                    out.accepted.push(g);
                    left.retain(|x| *x != g);
                }
                Some(g) => {
                    out.incomplete = Some(format!(
                        "the server picked {}, a group that was not offered",
                        hello::group_name(g)
                    ));
                    return out;
                }
                None if version != Protocol::TlsV1_3 && out.accepted.is_empty() => {
                    // Only ECDHE suites were offered: a choice without a named curve is an
                    // explicit curve or a server that ignores the list; say so, do not guess.
                    out.incomplete = Some(format!(
                        "the server chose {} without naming a curve in its ServerKeyExchange",
                        hello::suite_name(suite)
                    ));
                    return out;
                }
                None => {
                    out.incomplete = Some(format!(
                        "the server's answer ({}) names no group",
                        hello::suite_name(suite)
                    ));
                    return out;
                }
            },
            o if o.is_refusal() => {
                if version != Protocol::TlsV1_3 && out.accepted.is_empty() {
                    out.no_ecdhe = true;
                }
                return out;
            }
            o => {
                out.incomplete = Some(format!(
                    "an answer that is neither a choice nor a refusal: {}",
                    attempt_evidence(&Attempt {
                        hello_bytes: 0,
                        suites: 0,
                        outcome: o,
                        elapsed: Duration::ZERO,
                    })["reply"]
                ));
                return out;
            }
        }
    }
    out
}

/// Sends one hello on a fresh connection and reads the answer until it settles (as far into the
/// flight as `want` says), `limit` passes or [`MAX_REPLY_BYTES`] have arrived.
pub async fn send_hello(addr: SocketAddr, hello: &Hello, want: Want, limit: Instant) -> Outcome {
    let mut stream = match tokio::time::timeout_at(limit, super::connect::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) if is_no_route(&e) => return Outcome::NoRoute(format!("cannot connect: {e}")),
        Ok(Err(e)) => return Outcome::ConnectFailed(format!("cannot connect: {e}")),
        Err(_) => return Outcome::ConnectFailed("connect timed out".into()),
    };
    match tokio::time::timeout_at(limit, stream.write_all(&hello.bytes)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if is_reset(&e) => return Outcome::Reset,
        Ok(Err(_)) => return Outcome::Closed,
        Err(_) => return Outcome::Timeout { received: 0 },
    }
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    // Once a ServerHello is in, the certificate that may follow gets a short grace period only:
    // the version question is settled.
    let mut limit = limit;
    loop {
        match tokio::time::timeout_at(limit, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                return match reply::parse_for(&buf, want, true) {
                    Some(r) => Outcome::Reply(r),
                    None => Outcome::Closed,
                };
            }
            Ok(Ok(n)) => {
                let room = MAX_REPLY_BYTES - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
                let full = buf.len() >= MAX_REPLY_BYTES;
                if let Some(r) = reply::parse_for(&buf, want, full) {
                    return Outcome::Reply(r);
                }
                if full {
                    return Outcome::Timeout {
                        received: buf.len(),
                    };
                }
                if want != Want::Hello
                    && matches!(
                        reply::parse(&buf, false, false),
                        Some(Reply::ServerHello { .. })
                    )
                {
                    limit = limit.min(Instant::now() + Duration::from_millis(1500));
                }
            }
            Ok(Err(e)) => {
                return match reply::parse_for(&buf, want, true) {
                    Some(r) => Outcome::Reply(r),
                    None if is_reset(&e) => Outcome::Reset,
                    None => Outcome::Closed,
                };
            }
            Err(_) => {
                return match reply::parse_for(&buf, want, true) {
                    Some(r @ Reply::ServerHello { .. }) => Outcome::Reply(r),
                    Some(Reply::NotTls { reason }) if !reason.contains("end inside") => {
                        Outcome::Reply(Reply::NotTls { reason })
                    }
                    _ => Outcome::Timeout {
                        received: buf.len(),
                    },
                };
            }
        }
    }
}

/// ENETUNREACH or EADDRNOTAVAIL: this machine has no route to the address.
pub fn is_no_route(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::AddrNotAvailable
    )
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}

/// Evidence for one attempt.
pub fn attempt_evidence(a: &Attempt) -> Value {
    let reply = match &a.outcome {
        Outcome::Reply(Reply::ServerHello {
            version,
            suite,
            retry_request,
            certificates,
            downgrade_sentinel,
            group,
            dh_bits,
        }) => json!({
            "type": if *retry_request { "hello_retry_request" } else { "server_hello" },
            "downgrade_sentinel": downgrade_sentinel.map(|s| format!("DOWNGRD\\x0{s}")),
            "version": Protocol::from_wire(*version).map(|p| p.as_str().to_string())
                .unwrap_or_else(|| format!("0x{version:04x}")),
            "suite": hello::suite_name(*suite),
            "certificates": certificates.len(),
            "group": group.map(hello::group_name),
            "dh_bits": dh_bits,
        }),
        Outcome::Reply(Reply::Alert { level, description }) => json!({
            "type": "alert",
            "level": level_name(*level),
            "description": reply::alert_name(*description),
            "code": description,
        }),
        Outcome::Reply(Reply::NotTls { reason }) => json!({"type": "not_tls", "detail": reason}),
        Outcome::Closed => json!({"type": "close"}),
        Outcome::Reset => json!({"type": "reset"}),
        Outcome::Timeout { received } => json!({"type": "timeout", "bytes_received": received}),
        Outcome::ConnectFailed(e) => json!({"type": "connect_failed", "detail": e}),
        Outcome::NoRoute(e) => json!({"type": "no_route", "detail": e}),
    };
    json!({
        "hello_bytes": a.hello_bytes,
        "suites_offered": a.suites,
        "reply": reply,
        "elapsed_ms": a.elapsed.as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_hello(version: u16, suite: u16, sentinel: Option<u8>) -> Outcome {
        Outcome::Reply(Reply::ServerHello {
            version,
            suite,
            retry_request: false,
            certificates: vec![],
            downgrade_sentinel: sentinel,
            group: None,
            dh_bits: None,
        })
    }

    fn hello_for(v: Protocol) -> Hello {
        hello::client_hello(v, &hello::suite_lists(v).0, Some("app.test"))
    }

    #[test]
    fn a_lower_version_answer_rejects_the_asked_version_and_proves_the_lower_one() {
        // ECDHE-RSA-AES128-SHA: offered in the TLS 1.2 hello and valid in TLS 1.0.
        let j = judge(
            Protocol::TlsV1_2,
            &hello_for(Protocol::TlsV1_2),
            server_hello(0x0301, 0xc013, Some(0)),
        );
        assert_eq!(j.verdict, Verdict::Rejected, "{}", j.reason);
        assert!(
            j.reason.contains("server's highest is TLSv1.0"),
            "{}",
            j.reason
        );
        assert_eq!(j.implies, Some((Protocol::TlsV1_0, 0xc013)));
        // A TLS 1.2-only suite in a TLS 1.0 answer proves nothing about TLS 1.0.
        let j = judge(
            Protocol::TlsV1_2,
            &hello_for(Protocol::TlsV1_2),
            server_hello(0x0301, 0xc02f, None),
        );
        assert_eq!(j.verdict, Verdict::Rejected);
        assert_eq!(j.implies, None);
    }

    #[test]
    fn a_higher_version_answer_is_inconclusive() {
        let j = judge(
            Protocol::TlsV1_1,
            &hello_for(Protocol::TlsV1_1),
            server_hello(0x0303, 0xc013, None),
        );
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reason.contains("higher version"), "{}", j.reason);
    }

    #[test]
    fn a_misplaced_downgrade_sentinel_is_inconclusive() {
        // DOWNGRD\x00 belongs in a TLS 1.1-or-lower ServerHello, not a TLS 1.2 one.
        let j = judge(
            Protocol::TlsV1_2,
            &hello_for(Protocol::TlsV1_2),
            server_hello(0x0303, 0xc02f, Some(0)),
        );
        assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
        assert!(j.reason.contains("sentinel"), "{}", j.reason);
        // A TLS 1.3 server (it says so with DOWNGRD\x01) answering a TLS 1.3-only hello with 1.2.
        let j = judge(
            Protocol::TlsV1_3,
            &hello_for(Protocol::TlsV1_3),
            server_hello(0x0303, 0x1301, Some(1)),
        );
        assert_eq!(j.verdict, Verdict::Inconclusive, "{}", j.reason);
        // In its place, the sentinel changes nothing.
        let j = judge(
            Protocol::TlsV1_2,
            &hello_for(Protocol::TlsV1_2),
            server_hello(0x0303, 0xc02f, Some(1)),
        );
        assert_eq!(j.verdict, Verdict::Accepted, "{}", j.reason);
        // Without it, a TLS 1.2 answer to the TLS 1.3 hello proves 1.3 unsupported.
        let j = judge(
            Protocol::TlsV1_3,
            &hello_for(Protocol::TlsV1_3),
            server_hello(0x0303, 0x1301, None),
        );
        assert_eq!(j.verdict, Verdict::Rejected, "{}", j.reason);
    }
}
