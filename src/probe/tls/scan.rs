//! One address, every version: raw hellos and one rustls handshake, bounded in connections and
//! time.
//!
//! Each version gets one fresh TCP connection and one hello (two when the first list of suites is
//! refused with `handshake_failure`: the server may just share none of them). The verdict rules
//! are strict so that a version is never called rejected on weak grounds:
//! - `accepted`: a ServerHello (or HelloRetryRequest) with exactly that version and an offered suite;
//! - `rejected`: an alert, a close or a reset in answer to the hello;
//! - `inconclusive`: no answer in time, another version chosen (a downgrade), a suite never
//!   offered, bytes that are not TLS, or no connection at all.

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
use super::reply::{self, MAX_REPLY_BYTES, Reply};
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
    /// No TCP connection (refused, unreachable, timed out).
    ConnectFailed(String),
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
}

/// Everything learnt about one address.
#[derive(Debug)]
pub struct AddressScan {
    pub addr: SocketAddr,
    pub versions: BTreeMap<Protocol, VersionResult>,
    pub handshake: Result<Handshake, HandshakeFailure>,
    /// The chain from a plaintext Certificate message of an accepted TLS ≤ 1.2 hello.
    pub legacy_chain: Vec<Vec<u8>>,
    pub connections: usize,
}

impl AddressScan {
    /// True when no connection of any kind could be made.
    pub fn unreachable(&self) -> bool {
        matches!(&self.handshake, Err(f) if f.connect_failed)
            && self.versions.values().all(|v| {
                v.attempts
                    .iter()
                    .all(|a| matches!(a.outcome, Outcome::ConnectFailed(_)))
            })
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
            chain::handshake(addr, name, budget.per_connection.min(left)).await
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
    AddressScan {
        addr,
        versions: results,
        handshake,
        legacy_chain,
        connections: connections.load(std::sync::atomic::Ordering::Relaxed),
    }
}

/// One version: the first hello, and the retry with the disjoint list when it is needed.
async fn probe_version(
    version: Protocol,
    addr: SocketAddr,
    name: &str,
    budget: Budget,
    permits: &Semaphore,
    connections: &std::sync::atomic::AtomicUsize,
) -> (VersionResult, Vec<Vec<u8>>) {
    let (first, second) = hello::suite_lists(version);
    let mut attempts = Vec::new();
    for (i, suites) in [first, second].into_iter().enumerate() {
        if suites.is_empty() {
            break;
        }
        let hello = hello::client_hello(version, &suites, Some(name));
        let started = Instant::now();
        let outcome = {
            let Ok(_permit) = permits.acquire().await else {
                break;
            };
            let left = budget.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let result = VersionResult {
                    verdict: Verdict::Inconclusive,
                    reason: "not tried: the time budget was spent on other hellos".into(),
                    attempts,
                    suite: None,
                };
                return (result, vec![]);
            }
            connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let limit = Instant::now() + budget.per_connection.min(left);
            send_hello(addr, &hello, version != Protocol::TlsV1_3, limit).await
        };
        attempts.push(Attempt {
            hello_bytes: hello.bytes.len(),
            suites: hello.suites.len(),
            outcome: outcome.clone(),
            elapsed: started.elapsed(),
        });
        let handshake_failure = matches!(
            outcome,
            Outcome::Reply(Reply::Alert {
                description: 40,
                ..
            })
        );
        if handshake_failure && i == 0 {
            continue; // the server may share none of the first list: ask with the second
        }
        let (verdict, reason, suite, certs) = judge(version, &hello, outcome);
        let result = VersionResult {
            verdict,
            reason,
            attempts,
            suite,
        };
        return (result, certs);
    }
    // Only reached when the first hello was refused with handshake_failure and there is no
    // second list, or the permits were closed.
    let reason = match attempts.last().map(|a| &a.outcome) {
        Some(Outcome::Reply(Reply::Alert { level, description })) => {
            format!(
                "refused with {} alert {}",
                level_name(*level),
                reply::alert_name(*description)
            )
        }
        _ => "not tried".into(),
    };
    let verdict = if attempts.is_empty() {
        Verdict::Inconclusive
    } else {
        Verdict::Rejected
    };
    (
        VersionResult {
            verdict,
            reason,
            attempts,
            suite: None,
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

/// Applies the verdict rules to one answer.
fn judge(
    version: Protocol,
    hello: &Hello,
    outcome: Outcome,
) -> (Verdict, String, Option<u16>, Vec<Vec<u8>>) {
    use Verdict::*;
    match outcome {
        Outcome::Reply(Reply::ServerHello {
            version: chosen,
            suite,
            retry_request,
            certificates,
        }) => {
            let what = if retry_request {
                "HelloRetryRequest"
            } else {
                "ServerHello"
            };
            if chosen != version.wire() {
                let chosen_name = Protocol::from_wire(chosen)
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| format!("0x{chosen:04x}"));
                (
                    Inconclusive,
                    format!("downgrade: the server answered {version} with a {chosen_name} {what}"),
                    None,
                    vec![],
                )
            } else if !hello.suites.contains(&suite) {
                (
                    Inconclusive,
                    format!(
                        "the server chose {}, a suite that was not offered",
                        hello::suite_name(suite)
                    ),
                    None,
                    vec![],
                )
            } else {
                (
                    Accepted,
                    format!("{what} {version} {}", hello::suite_name(suite)),
                    Some(suite),
                    certificates,
                )
            }
        }
        Outcome::Reply(Reply::Alert { level, description }) => (
            Rejected,
            format!(
                "refused with {} alert {}",
                level_name(level),
                reply::alert_name(description)
            ),
            None,
            vec![],
        ),
        Outcome::Reply(Reply::NotTls { reason }) => (Inconclusive, reason, None, vec![]),
        Outcome::Closed => (
            Rejected,
            "the server closed the connection after the hello".into(),
            None,
            vec![],
        ),
        Outcome::Reset => (
            Rejected,
            "the server reset the connection after the hello".into(),
            None,
            vec![],
        ),
        Outcome::Timeout { received } => (
            Inconclusive,
            if received == 0 {
                "no answer in time".into()
            } else {
                format!("no complete answer in time ({received} bytes received)")
            },
            None,
            vec![],
        ),
        Outcome::ConnectFailed(e) => (Inconclusive, e, None, vec![]),
    }
}

/// Sends one hello on a fresh connection and reads the answer until it settles, `limit` passes
/// or [`MAX_REPLY_BYTES`] have arrived.
pub async fn send_hello(
    addr: SocketAddr,
    hello: &Hello,
    want_certificate: bool,
    limit: Instant,
) -> Outcome {
    let mut stream = match tokio::time::timeout_at(limit, super::connect::connect(addr)).await {
        Ok(Ok(s)) => s,
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
                return match reply::parse(&buf, want_certificate, true) {
                    Some(r) => Outcome::Reply(r),
                    None => Outcome::Closed,
                };
            }
            Ok(Ok(n)) => {
                let room = MAX_REPLY_BYTES - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
                let full = buf.len() >= MAX_REPLY_BYTES;
                if let Some(r) = reply::parse(&buf, want_certificate, full) {
                    return Outcome::Reply(r);
                }
                if full {
                    return Outcome::Timeout {
                        received: buf.len(),
                    };
                }
                if want_certificate
                    && matches!(
                        reply::parse(&buf, false, false),
                        Some(Reply::ServerHello { .. })
                    )
                {
                    limit = limit.min(Instant::now() + Duration::from_millis(1500));
                }
            }
            Ok(Err(e)) => {
                return match reply::parse(&buf, want_certificate, true) {
                    Some(r) => Outcome::Reply(r),
                    None if is_reset(&e) => Outcome::Reset,
                    None => Outcome::Closed,
                };
            }
            Err(_) => {
                return match reply::parse(&buf, want_certificate, true) {
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
        }) => json!({
            "type": if *retry_request { "hello_retry_request" } else { "server_hello" },
            "version": Protocol::from_wire(*version).map(|p| p.as_str().to_string())
                .unwrap_or_else(|| format!("0x{version:04x}")),
            "suite": hello::suite_name(*suite),
            "certificates": certificates.len(),
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
    };
    json!({
        "hello_bytes": a.hello_bytes,
        "suites_offered": a.suites,
        "reply": reply,
        "elapsed_ms": a.elapsed.as_millis() as u64,
    })
}
