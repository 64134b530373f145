//! STARTTLS: the plaintext dialogue that turns a mail or database connection into a TLS one, so
//! that the same version, certificate and cipher scans run behind it.
//!
//! - SMTP (RFC 3207): read the 220 greeting, `EHLO`, look for the `STARTTLS` keyword in the 250
//!   reply, send `STARTTLS`, read the 220 that allows the handshake.
//! - IMAP (RFC 2595 §3.1, RFC 3501 §6.2.1): read the `* OK` greeting, `CAPABILITY`, look for
//!   `STARTTLS`, send `STARTTLS`, read the tagged `OK`.
//! - POP3 (RFC 2595 §4): read `+OK`, `CAPA`, look for `STLS`, send `STLS`, read `+OK`.
//! - PostgreSQL (protocol docs, "SSL Session Encryption"): the 8-byte SSLRequest (length 8, code
//!   80877103); one byte back: `S` (TLS follows) or `N` (the server will not do TLS).
//!
//! Every connection the TLS probe opens goes through [`connect`] — each raw hello and each rustls
//! handshake. The scheme of the target being scanned travels in a task-local set by [`scoped`]
//! around the scan, so the wire code keeps one connect call and no extra parameter; a plain
//! `host:port` scan has no scheme set and gets a bare TCP connection.
//!
//! A server that does not offer the upgrade is an observation (`starttls.offered == false`), found
//! by [`preflight`] before the scan. A refusal of an advertised upgrade, an answer that is not the
//! protocol, or a timeout is a failed connection: it makes versions `inconclusive`, never
//! `rejected`.

use std::future::Future;
use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::probe::{Observation, ProbeError, ProbeErrorKind};

/// A protocol that upgrades a plaintext connection to TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Smtp,
    Imap,
    Pop3,
    Postgres,
}

impl Scheme {
    /// The scheme of a target URL (`smtp://`, `imap://`, `pop3://`, `postgres://` or
    /// `postgresql://`), case-insensitive.
    pub fn from_url_scheme(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "smtp" => Some(Scheme::Smtp),
            "imap" => Some(Scheme::Imap),
            "pop3" => Some(Scheme::Pop3),
            "postgres" | "postgresql" => Some(Scheme::Postgres),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Smtp => "smtp",
            Scheme::Imap => "imap",
            Scheme::Pop3 => "pop3",
            Scheme::Postgres => "postgres",
        }
    }

    /// The port of the plaintext service that offers the upgrade.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Smtp => 25,
            Scheme::Imap => 143,
            Scheme::Pop3 => 110,
            Scheme::Postgres => 5432,
        }
    }
}

tokio::task_local! {
    static UPGRADE: Scheme;
}

/// Runs `f` (a scan) with every [`connect`] inside it upgrading through `scheme`.
pub async fn scoped<F: Future>(scheme: Option<Scheme>, f: F) -> F::Output {
    match scheme {
        Some(s) => UPGRADE.scope(s, f).await,
        None => f.await,
    }
}

/// Runs the STARTTLS dialogue of the scan's scheme, when there is one, on a fresh connection
/// (called by [`super::connect::connect`], the one place the scan connects). The caller bounds it
/// in time.
pub async fn upgrade(tcp: &mut TcpStream) -> std::io::Result<()> {
    if let Ok(scheme) = UPGRADE.try_with(|s| *s) {
        let mut d = Dialogue::new(scheme);
        match d.run(tcp).await {
            Ok(Offer::Offered) => {}
            Ok(Offer::NotOffered(why)) => {
                return Err(std::io::Error::other(format!(
                    "{} STARTTLS not offered: {why}",
                    scheme.name()
                )));
            }
            Err(e) => {
                return Err(std::io::Error::other(format!(
                    "{} STARTTLS failed: {e}",
                    scheme.name()
                )));
            }
        }
    }
    Ok(())
}

/// What one STARTTLS dialogue found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Offer {
    /// The server agreed; the next bytes on the connection are TLS.
    Offered,
    /// The server does not offer the upgrade (the reason in words).
    NotOffered(String),
}

/// The first upgrade at one address, before the scan: whether STARTTLS is offered, and the
/// plaintext transcript as evidence.
#[derive(Clone, Debug)]
pub struct Preflight {
    pub addr: SocketAddr,
    /// `Err` when neither an offer nor its absence could be established (no connection, a
    /// timeout, an answer that is not the protocol, an advertised upgrade refused).
    pub offer: Result<Offer, String>,
    pub transcript: Vec<String>,
}

/// Runs the STARTTLS dialogue once at `addr`, by `limit`.
pub async fn preflight(addr: SocketAddr, scheme: Scheme, limit: Instant) -> Preflight {
    let mut d = Dialogue::new(scheme);
    let offer = match tokio::time::timeout_at(limit, TcpStream::connect(addr)).await {
        Err(_) => Err("connect timed out".to_string()),
        Ok(Err(e)) => Err(format!("cannot connect: {e}")),
        Ok(Ok(mut tcp)) => match tokio::time::timeout_at(limit, d.run(&mut tcp)).await {
            Err(_) => Err(format!(
                "no complete {} answer in time{}",
                scheme.name(),
                if d.buf.is_empty() {
                    String::new()
                } else {
                    format!(" ({} bytes of an unfinished line)", d.buf.len())
                }
            )),
            Ok(r) => r,
        },
    };
    Preflight {
        addr,
        offer,
        transcript: d.transcript,
    }
}

/// The preflight at every address of a target, and what it means for the scan.
#[derive(Clone, Debug, Default)]
pub struct Offers {
    scheme: Option<Scheme>,
    checks: Vec<Preflight>,
}

impl Offers {
    /// Asks every address once, concurrently, by `limit`; a plain TLS target asks nothing.
    pub async fn check(scheme: Option<Scheme>, addrs: &[SocketAddr], limit: Instant) -> Offers {
        let Some(scheme) = scheme else {
            return Offers::default();
        };
        let checks =
            futures::future::join_all(addrs.iter().map(|&a| preflight(a, scheme, limit))).await;
        Offers {
            scheme: Some(scheme),
            checks,
        }
    }

    /// The connections the preflight opened.
    pub fn connections(&self) -> usize {
        self.checks.len()
    }

    /// When no address could be asked at all (no connection, a timeout, not the protocol): the
    /// probe's error, as for a plain TLS endpoint that cannot be reached.
    pub fn failure(&self) -> Option<ProbeError> {
        let scheme = self.scheme?;
        let errors: Vec<(SocketAddr, &String)> = self
            .checks
            .iter()
            .map(|c| c.offer.as_ref().err().map(|e| (c.addr, e)))
            .collect::<Option<_>>()?;
        let (_, first) = errors.first()?;
        let kind = if first.starts_with("cannot connect") {
            ProbeErrorKind::Unreachable
        } else if first.contains("timed out") || first.contains("in time") {
            ProbeErrorKind::Timeout
        } else {
            ProbeErrorKind::Protocol
        };
        let detail = errors
            .iter()
            .map(|(a, e)| format!("{a}: {e}"))
            .collect::<Vec<_>>()
            .join("; ");
        Some(
            ProbeError::new(kind, format!("{} STARTTLS: {detail}", scheme.name())).with_hint(
                format!(
                    "check that the port serves {} (the target's scheme) and answers in time",
                    scheme.name()
                ),
            ),
        )
    }

    /// The addresses to scan: all but those that do not offer the upgrade (an address whose
    /// preflight failed is scanned, and its versions come out inconclusive, never passed over).
    pub fn scan_addresses(&self, addrs: &[SocketAddr]) -> Vec<SocketAddr> {
        addrs
            .iter()
            .copied()
            .filter(|a| {
                !self
                    .checks
                    .iter()
                    .any(|c| c.addr == *a && matches!(c.offer, Ok(Offer::NotOffered(_))))
            })
            .collect()
    }

    /// Why there is no TLS to observe, when no address offers it.
    pub fn none_offered(&self) -> Option<String> {
        let scheme = self.scheme?;
        let reasons: Vec<String> = self
            .checks
            .iter()
            .map(|c| match &c.offer {
                Ok(Offer::NotOffered(why)) => Some(why.clone()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        Some(format!(
            "{} STARTTLS is not offered ({}): there is no TLS to observe",
            scheme.name(),
            reasons.first().cloned().unwrap_or_default()
        ))
    }

    /// `starttls.protocol`, `starttls.offered` (false when any address does not offer it, true
    /// when every address does) and the transcripts.
    pub fn record(&self, obs: &mut Observation) {
        let Some(scheme) = self.scheme else {
            obs.fact("starttls.protocol", Value::Null);
            obs.unobserved(
                "starttls.offered",
                "a plain TLS target; STARTTLS is asked with smtp://, imap://, pop3:// or postgres://",
            );
            return;
        };
        obs.fact("starttls.protocol", scheme.name());
        let not_offered = self
            .checks
            .iter()
            .any(|c| matches!(c.offer, Ok(Offer::NotOffered(_))));
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter_map(|c| c.offer.as_ref().err().map(|e| format!("{}: {e}", c.addr)))
            .collect();
        if not_offered {
            obs.fact("starttls.offered", false);
        } else if failed.is_empty() {
            obs.fact("starttls.offered", true);
        } else {
            obs.unobserved(
                "starttls.offered",
                format!(
                    "the {} dialogue failed at {}",
                    scheme.name(),
                    failed.join("; ")
                ),
            );
        }
        let addresses: serde_json::Map<String, Value> = self
            .checks
            .iter()
            .map(|c| {
                let (offered, detail) = match &c.offer {
                    Ok(Offer::Offered) => (json!(true), Value::Null),
                    Ok(Offer::NotOffered(why)) => (json!(false), json!(why)),
                    Err(e) => (Value::Null, json!(e)),
                };
                (
                    c.addr.to_string(),
                    json!({"offered": offered, "detail": detail, "transcript": c.transcript}),
                )
            })
            .collect();
        obs.evidence(
            "starttls",
            json!({"protocol": scheme.name(), "addresses": addresses}),
        );
    }
}

/// The spot-check line: `smtp: offered`, `smtp: not offered (why)`, or `None` for plain TLS.
pub fn render(o: &Observation) -> Option<String> {
    let protocol = o.facts.get("starttls.protocol")?.as_str()?;
    let detail = |o: &Observation| -> Option<String> {
        o.evidence
            .get("starttls")?
            .get("addresses")?
            .as_object()?
            .values()
            .find_map(|a| a.get("detail")?.as_str().map(str::to_string))
    };
    Some(match o.facts.get("starttls.offered") {
        Some(Value::Bool(true)) => format!("{protocol}: ✓ offered"),
        Some(Value::Bool(false)) => format!(
            "{protocol}: ✗ not offered ({})",
            detail(o).unwrap_or_default()
        ),
        _ => format!(
            "{protocol}: ? {}",
            o.unobserved
                .get("starttls.offered")
                .cloned()
                .unwrap_or_default()
        ),
    })
}

/// The longest line and the most plaintext accepted before the handshake: a server that talks
/// more is not the protocol.
const MAX_LINE: usize = 4096;
const MAX_TOTAL: usize = 64 * 1024;
/// Transcript lines kept as evidence, each cut at [`TRANSCRIPT_LINE`] characters.
const TRANSCRIPT_LINES: usize = 60;
const TRANSCRIPT_LINE: usize = 200;

/// One plaintext dialogue: a line reader over the connection and a transcript.
struct Dialogue {
    scheme: Scheme,
    buf: Vec<u8>,
    total: usize,
    transcript: Vec<String>,
}

impl Dialogue {
    fn new(scheme: Scheme) -> Dialogue {
        Dialogue {
            scheme,
            buf: Vec::new(),
            total: 0,
            transcript: Vec::new(),
        }
    }

    fn note(&mut self, who: &str, line: &str) {
        if self.transcript.len() < TRANSCRIPT_LINES {
            let line: String = line.chars().take(TRANSCRIPT_LINE).collect();
            self.transcript.push(format!("{who}: {line}"));
        }
    }

    async fn send(&mut self, tcp: &mut TcpStream, line: &str) -> Result<(), String> {
        self.note("C", line);
        tcp.write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| format!("cannot send `{line}`: {e}"))
    }

    /// The next line, without its CRLF (a bare LF is tolerated).
    async fn line(&mut self, tcp: &mut TcpStream) -> Result<String, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                self.note("S", &text);
                return Ok(text);
            }
            if self.buf.len() > MAX_LINE {
                return Err(format!(
                    "a line longer than {MAX_LINE} bytes: not a {} server",
                    self.scheme.name()
                ));
            }
            let mut chunk = [0u8; 1024];
            let n = tcp
                .read(&mut chunk)
                .await
                .map_err(|e| format!("the connection failed during the dialogue: {e}"))?;
            if n == 0 {
                return Err(if self.buf.is_empty() && self.transcript.is_empty() {
                    "the server closed the connection without a greeting".into()
                } else {
                    "the server closed the connection during the dialogue".into()
                });
            }
            self.total += n;
            if self.total > MAX_TOTAL {
                return Err(format!(
                    "more than {MAX_TOTAL} bytes before the handshake: not a {} server",
                    self.scheme.name()
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Nothing may follow the answer that allows the handshake: bytes there would be read as the
    /// server's TLS reply (or were injected before the encryption starts).
    fn nothing_pending(&self) -> Result<(), String> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the server sent {} bytes after agreeing to STARTTLS, before the handshake",
                self.buf.len()
            ))
        }
    }

    async fn run(&mut self, tcp: &mut TcpStream) -> Result<Offer, String> {
        match self.scheme {
            Scheme::Smtp => self.smtp(tcp).await,
            Scheme::Imap => self.imap(tcp).await,
            Scheme::Pop3 => self.pop3(tcp).await,
            Scheme::Postgres => self.postgres(tcp).await,
        }
    }

    /// One SMTP reply (RFC 5321 §4.2): its code and the text of every line.
    async fn smtp_reply(&mut self, tcp: &mut TcpStream) -> Result<(u16, Vec<String>), String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line(tcp).await?;
            let bytes = line.as_bytes();
            let code = line
                .get(..3)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| format!("`{}` is not an SMTP reply", cut(&line)))?;
            let last = match bytes.get(3) {
                None | Some(b' ') => true,
                Some(b'-') => false,
                _ => return Err(format!("`{}` is not an SMTP reply", cut(&line))),
            };
            lines.push(line.get(4..).unwrap_or("").to_string());
            if last {
                return Ok((code, lines));
            }
            if lines.len() > 200 {
                return Err("an SMTP reply of more than 200 lines".into());
            }
        }
    }

    async fn smtp(&mut self, tcp: &mut TcpStream) -> Result<Offer, String> {
        let (code, text) = self.smtp_reply(tcp).await?;
        if code != 220 {
            return Err(format!(
                "the server refused the session: {code} {}",
                cut(&text.join(" "))
            ));
        }
        // RFC 5321 §4.1.4: without a name of its own, a client greets with its address literal.
        let me = match tcp.local_addr().map(|a| a.ip()) {
            Ok(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
            Ok(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            Err(_) => "[127.0.0.1]".into(),
        };
        self.send(tcp, &format!("EHLO {me}")).await?;
        let (code, lines) = self.smtp_reply(tcp).await?;
        match code {
            250 => {}
            // Not recognised / not implemented: an RFC 821 server, which has no extensions.
            500 | 502 => {
                return Ok(Offer::NotOffered(format!(
                    "the server does not speak ESMTP (EHLO answered {code}), so it has no STARTTLS"
                )));
            }
            _ => {
                return Err(format!(
                    "EHLO was answered {code} {}",
                    cut(&lines.join(" "))
                ));
            }
        }
        // The first line is the greeting; each further line is one extension keyword + params.
        let offered = lines.iter().skip(1).any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
        });
        if !offered {
            return Ok(Offer::NotOffered(
                "the EHLO reply does not list the STARTTLS extension".into(),
            ));
        }
        self.send(tcp, "STARTTLS").await?;
        let (code, text) = self.smtp_reply(tcp).await?;
        if code != 220 {
            return Err(format!(
                "STARTTLS was advertised but answered {code} {}",
                cut(&text.join(" "))
            ));
        }
        self.nothing_pending()?;
        Ok(Offer::Offered)
    }

    /// Reads to the tagged completion of an IMAP command; the untagged lines along the way.
    async fn imap_command(
        &mut self,
        tcp: &mut TcpStream,
        tag: &str,
        command: &str,
    ) -> Result<(String, Vec<String>), String> {
        self.send(tcp, &format!("{tag} {command}")).await?;
        let mut untagged = Vec::new();
        loop {
            let line = self.line(tcp).await?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return Ok((rest.to_string(), untagged));
            }
            if !line.starts_with("* ") && !line.starts_with("+ ") {
                return Err(format!("`{}` is not an IMAP response", cut(&line)));
            }
            untagged.push(line);
            if untagged.len() > 200 {
                return Err("more than 200 untagged IMAP responses".into());
            }
        }
    }

    async fn imap(&mut self, tcp: &mut TcpStream) -> Result<Offer, String> {
        let greeting = self.line(tcp).await?;
        let status = greeting
            .strip_prefix("* ")
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_ascii_uppercase);
        match status.as_deref() {
            Some("OK") => {}
            // RFC 3501 §6.2.1: STARTTLS is a not-authenticated-state command.
            Some("PREAUTH") => {
                return Ok(Offer::NotOffered(
                    "the server pre-authenticated the session (PREAUTH), where STARTTLS is not allowed".into(),
                ));
            }
            Some("BYE") => {
                return Err(format!(
                    "the server refused the session: {}",
                    cut(&greeting)
                ));
            }
            _ => return Err(format!("`{}` is not an IMAP greeting", cut(&greeting))),
        }
        let (done, untagged) = self.imap_command(tcp, "a", "CAPABILITY").await?;
        if !done.to_ascii_uppercase().starts_with("OK") {
            return Err(format!("CAPABILITY was answered {}", cut(&done)));
        }
        let offered = untagged.iter().any(|l| {
            let mut words = l.split_whitespace().skip(1);
            words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("CAPABILITY"))
                && words.any(|w| w.eq_ignore_ascii_case("STARTTLS"))
        });
        if !offered {
            return Ok(Offer::NotOffered(
                "the CAPABILITY response does not list STARTTLS".into(),
            ));
        }
        let (done, _) = self.imap_command(tcp, "b", "STARTTLS").await?;
        if !done.to_ascii_uppercase().starts_with("OK") {
            return Err(format!(
                "STARTTLS was advertised but answered {}",
                cut(&done)
            ));
        }
        self.nothing_pending()?;
        Ok(Offer::Offered)
    }

    /// One POP3 status line: `+OK …` is true, `-ERR …` false.
    async fn pop3_status(&mut self, tcp: &mut TcpStream) -> Result<(bool, String), String> {
        let line = self.line(tcp).await?;
        if line.starts_with("+OK") {
            Ok((true, line))
        } else if line.starts_with("-ERR") {
            Ok((false, line))
        } else {
            Err(format!("`{}` is not a POP3 response", cut(&line)))
        }
    }

    async fn pop3(&mut self, tcp: &mut TcpStream) -> Result<Offer, String> {
        let (ok, greeting) = self.pop3_status(tcp).await?;
        if !ok {
            return Err(format!(
                "the server refused the session: {}",
                cut(&greeting)
            ));
        }
        self.send(tcp, "CAPA").await?;
        let (capa_ok, _) = self.pop3_status(tcp).await?;
        let mut offered = None;
        if capa_ok {
            // RFC 2449: a multi-line list ended by a line holding one dot.
            let mut found = false;
            for _ in 0..200 {
                let line = self.line(tcp).await?;
                if line == "." {
                    offered = Some(found);
                    break;
                }
                found |= line
                    .split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("STLS"));
            }
            if offered.is_none() {
                return Err("a CAPA list of more than 200 lines".into());
            }
        }
        if offered == Some(false) {
            return Ok(Offer::NotOffered(
                "the CAPA response does not list STLS".into(),
            ));
        }
        // With no CAPA (an RFC 1939 server), STLS itself is the question.
        self.send(tcp, "STLS").await?;
        let (ok, answer) = self.pop3_status(tcp).await?;
        if !ok {
            return if offered.is_none() {
                Ok(Offer::NotOffered(format!(
                    "the server has no CAPA and refused STLS: {}",
                    cut(&answer)
                )))
            } else {
                Err(format!("STLS was advertised but answered {}", cut(&answer)))
            };
        }
        self.nothing_pending()?;
        Ok(Offer::Offered)
    }

    async fn postgres(&mut self, tcp: &mut TcpStream) -> Result<Offer, String> {
        // Int32 length 8, Int32 80877103 (1234 in the high half, 5679 in the low).
        const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        self.note("C", "SSLRequest (80877103)");
        tcp.write_all(&SSL_REQUEST)
            .await
            .map_err(|e| format!("cannot send the SSLRequest: {e}"))?;
        let mut answer = [0u8; 1];
        let n = tcp
            .read(&mut answer)
            .await
            .map_err(|e| format!("the connection failed after the SSLRequest: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection after the SSLRequest".into());
        }
        match answer[0] {
            b'S' => {
                self.note("S", "S (TLS follows)");
                Ok(Offer::Offered)
            }
            b'N' => {
                self.note("S", "N (no TLS)");
                Ok(Offer::NotOffered(
                    "the server answered the SSLRequest with N: it does not accept TLS".into(),
                ))
            }
            b'E' => {
                self.note("S", "E (ErrorResponse)");
                Err("the server answered the SSLRequest with an ErrorResponse (a server that does not know the request)".into())
            }
            b => Err(format!(
                "the server answered the SSLRequest with byte 0x{b:02x}: not a PostgreSQL server"
            )),
        }
    }
}

fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(120).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_name_the_protocol_and_its_plaintext_port() {
        let s = |x: &str| Scheme::from_url_scheme(x).map(|s| (s.name(), s.default_port()));
        assert_eq!(s("smtp"), Some(("smtp", 25)));
        assert_eq!(s("IMAP"), Some(("imap", 143)));
        assert_eq!(s("pop3"), Some(("pop3", 110)));
        assert_eq!(s("postgres"), Some(("postgres", 5432)));
        assert_eq!(s("postgresql"), Some(("postgres", 5432)));
        // The implicit-TLS ports are plain TLS targets (host:465), not STARTTLS.
        assert_eq!(s("smtps"), None);
        assert_eq!(s("imaps"), None);
    }
}
