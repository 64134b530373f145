//! The HTTP probe's requests: one reqwest client per request over a shared rustls configuration
//! (system roots plus the inventory's `[tls] ca_file`), the inventory's `[resolve]` map, no
//! automatic redirects (vouch follows each hop itself so every hop is recorded), bounded hops,
//! headers, body and time. Nothing here judges a response; it records it.
//!
//! A client per request is deliberate: the `[resolve]` map is keyed by `name:port` while reqwest's
//! override is keyed by name, so each hop gets a client whose override is exactly its own
//! `name:port`. Connection reuse does not matter for a handful of requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HOST, HeaderMap, HeaderValue};
use rustls::pki_types::ServerName;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::inventory::Inventory;
use crate::probe::{ProbeError, ProbeErrorKind, redact_header};

/// Requests in one followed chain, the first included.
pub const MAX_HOPS: usize = 10;
/// The most body vouch reads from any response.
pub const BODY_CAP: usize = 1024 * 1024;
/// The most header fields vouch accepts in one response (hyper also bounds their total size).
const MAX_HEADERS: usize = 200;
/// The most header bytes vouch accepts in one HTTP/2 response (hyper's HTTP/1 limit is similar).
const MAX_HEADER_LIST_BYTES: u32 = 256 * 1024;
/// Header values longer than this are cut in facts and evidence (long CSPs add nothing to an
/// audit, and a hostile server must not fill a report).
pub const VALUE_CAP: usize = 2048;

/// `value` cut to [`VALUE_CAP`] bytes (on a character boundary), marked when cut.
pub fn cap(value: &str) -> String {
    if value.len() <= VALUE_CAP {
        return value.to_string();
    }
    let mut cut = VALUE_CAP;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[cut]", &value[..cut])
}

/// Builds the rustls client configuration: system roots plus `ca_file`; ALPN offers `h2` and
/// `http/1.1`, so a server that only speaks HTTP/2 over TLS is reachable too.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, ProbeError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        // No system store (a minimal container): Mozilla's roots, rather than trusting nothing.
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                ProbeError::new(
                    ProbeErrorKind::Config,
                    format!("cannot read CA file {}: {e}", path.display()),
                )
                .with_hint("[tls] ca_file in the inventory must name a PEM file of certificates")
            })?;
        if certs.is_empty() {
            return Err(ProbeError::new(
                ProbeErrorKind::Config,
                format!("CA file {} holds no certificates", path.display()),
            )
            .with_hint("[tls] ca_file must hold PEM `CERTIFICATE` blocks"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                ProbeError::new(
                    ProbeErrorKind::Config,
                    format!("CA file {}: {e}", path.display()),
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::new(ProbeErrorKind::Other, e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn();
    Ok(config)
}

/// Query parameters whose values are secrets in practice (sign-in redirects, signed URLs).
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "code",
    "id_token",
    "jwt",
    "key",
    "password",
    "passwd",
    "pwd",
    "refresh_token",
    "secret",
    "session",
    "sessionid",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
];

/// A URL fit for evidence: no user-info, and secret-looking query values replaced.
pub fn redact_url(url: &Url) -> Url {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    let secret = |k: &str| SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "[redacted]".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u
}

/// A configuration that completes handshakes whatever the certificate, for one purpose only:
/// after a verified request failed on the certificate, to see what the site serves anyway (as
/// hstspreload.org does) and report the certificate as the issue. Handshake signatures are still
/// checked, so the peer holds the key of the certificate it shows.
pub fn unverified_tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(AcceptAnyCertificate(provider.clone()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the default protocol versions are supported")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn();
    config
}

/// What the probe offers by ALPN, in Chromium's order.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    Timeout(String),
    /// Name resolution or TCP connect failed, or the TLS handshake failed for another reason
    /// than the certificate.
    Connect(String),
    /// The server's certificate is not valid for a browser (untrusted, expired, wrong name).
    Certificate(String),
    /// The TCP connection was refused: nothing listens on that port.
    Refused(String),
    /// TCP connected, but no TLS session could be agreed (versions, cipher suites, an alert)
    /// for another reason than the certificate.
    Tls(String),
    /// The peer answered with something that is not HTTP vouch accepts (or too much of it).
    Protocol(String),
}

impl FetchError {
    pub fn message(&self) -> &str {
        match self {
            FetchError::Timeout(m)
            | FetchError::Connect(m)
            | FetchError::Certificate(m)
            | FetchError::Refused(m)
            | FetchError::Tls(m)
            | FetchError::Protocol(m) => m,
        }
    }

    pub fn into_probe_error(self, timeout: Duration) -> ProbeError {
        match self {
            FetchError::Timeout(m) => {
                let mut e = ProbeError::timeout(timeout);
                e.message = m;
                e
            }
            FetchError::Connect(m) | FetchError::Refused(m) | FetchError::Tls(m) => ProbeError::new(ProbeErrorKind::Unreachable, m).with_hint(
                "check the name resolves (or map it in [resolve]), the port is open, and the certificate is trusted ([tls] ca_file for a private CA)",
            ),
            FetchError::Certificate(m) => ProbeError::new(ProbeErrorKind::Unreachable, m)
                .with_hint("the certificate is not valid for a browser; for a private CA, set [tls] ca_file in the inventory or pass --ca-file"),
            FetchError::Protocol(m) => ProbeError::new(ProbeErrorKind::Protocol, m)
                .with_hint("the server's answer is not an HTTP response vouch can read"),
        }
    }
}

/// One response as recorded.
#[derive(Clone, Debug)]
pub struct Response {
    pub url: Url,
    pub status: u16,
    /// Every header, secrets redacted, long values cut.
    pub headers: Vec<(String, String)>,
    /// `Strict-Transport-Security` values, in order, verbatim.
    pub sts: Vec<String>,
    /// The redirect target, resolved against `url`, when the response is a redirect.
    pub location: Option<Url>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    /// The body was longer than [`BODY_CAP`] and was cut there.
    pub body_truncated: bool,
}

impl Response {
    /// The hop as shown in `redirect.chain`.
    pub fn hop_json(&self) -> serde_json::Value {
        json!({
            "url": redact_url(&self.url).as_str(),
            "status": self.status,
            "location": self.location.as_ref().map(|l| redact_url(l).to_string()),
        })
    }

    /// The hop with its headers, for evidence.
    pub fn evidence_json(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> = {
            let mut m = serde_json::Map::new();
            for (k, v) in &self.headers {
                match m.get_mut(k) {
                    Some(serde_json::Value::Array(a)) => a.push(v.clone().into()),
                    Some(prev) => {
                        let first = prev.take();
                        *prev = json!([first, v]);
                    }
                    None => {
                        m.insert(k.clone(), v.clone().into());
                    }
                }
            }
            m
        };
        json!({
            "url": redact_url(&self.url).as_str(),
            "status": self.status,
            "location": self.location.as_ref().map(|l| redact_url(l).to_string()),
            "headers": headers,
        })
    }
}

/// A chain followed from one URL.
#[derive(Clone, Debug)]
pub struct Followed {
    pub start: Url,
    pub responses: Vec<Response>,
    pub end: End,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    Final,
    TooManyRedirects,
    Failed(FetchError),
}

impl Followed {
    pub fn last(&self) -> Option<&Response> {
        self.responses.last()
    }

    /// The chain as the pure rules in `hsts` see it.
    pub fn as_chain(&self) -> super::hsts::Chain {
        use super::hsts::{Chain, ChainEnd, Step};
        Chain {
            steps: self
                .responses
                .iter()
                // Issue messages quote these URLs: keep secrets out of them too.
                .map(|r| Step {
                    url: redact_url(&r.url),
                    sts: r.sts.clone(),
                    location: r.location.as_ref().map(redact_url),
                })
                .collect(),
            end: match &self.end {
                End::Final => ChainEnd::Final,
                End::TooManyRedirects => ChainEnd::TooManyRedirects,
                End::Failed(e) => ChainEnd::Failed(e.message().to_string()),
            },
        }
    }

    pub fn hops_json(&self) -> serde_json::Value {
        self.responses.iter().map(Response::hop_json).collect()
    }

    pub fn evidence_json(&self) -> serde_json::Value {
        json!({
            "start": redact_url(&self.start).as_str(),
            "responses": self.responses.iter().map(Response::evidence_json).collect::<Vec<_>>(),
            "end": match &self.end {
                End::Final => "final".to_string(),
                End::TooManyRedirects => format!("stopped after {MAX_HOPS} requests (redirect limit)"),
                End::Failed(e) => format!("failed: {}", e.message()),
            },
        })
    }
}

/// Makes the probe's requests for one observation, within one deadline.
pub struct Fetcher {
    pub tls: Arc<rustls::ClientConfig>,
    pub inventory: Arc<Inventory>,
    /// The longest one request may take.
    pub per_request: Duration,
    /// When the whole observation must be done.
    pub deadline: Instant,
}

impl Fetcher {
    /// The same requests with certificate checks off (see [`unverified_tls_config`]).
    pub fn unverified(&self) -> Fetcher {
        Fetcher {
            tls: Arc::new(unverified_tls_config()),
            inventory: self.inventory.clone(),
            per_request: self.per_request,
            deadline: self.deadline,
        }
    }

    fn budget(&self) -> Result<Duration, FetchError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FetchError::Timeout(
                "the observation's time budget ran out".into(),
            ));
        }
        Ok(left.min(self.per_request))
    }

    /// The `[resolve]` override for a URL's `name:port`.
    fn override_for(&self, url: &Url) -> Option<SocketAddr> {
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        self.inventory.resolve_override(host, port)
    }

    /// One GET, no redirects followed. `read_body` reads up to [`BODY_CAP`].
    pub async fn get(&self, url: &Url, read_body: bool) -> Result<Response, FetchError> {
        let budget = self.budget()?;
        match tokio::time::timeout(budget, self.get_inner(url, read_body, budget)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(format!(
                "{}: no answer within {}",
                redact_url(url),
                crate::probe::humantime(budget)
            ))),
        }
    }

    async fn get_inner(
        &self,
        url: &Url,
        read_body: bool,
        budget: Duration,
    ) -> Result<Response, FetchError> {
        let host = url
            .host_str()
            .ok_or_else(|| FetchError::Protocol(format!("{url} has no host")))?;
        let mut request_url = url.clone();
        let mut headers = HeaderMap::new();
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .redirect(reqwest::redirect::Policy::none())
            .http1_max_headers(MAX_HEADERS)
            .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
            // vouch inspects the target itself: a proxy could add or strip the very headers
            // being checked.
            .no_proxy()
            .timeout(budget)
            .connect_timeout(budget)
            .pool_max_idle_per_host(0)
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
        if let Some(addr) = self.override_for(url) {
            // reqwest takes the override's port only when the URL names none; for an explicit
            // port mapped elsewhere, connect to the mapped port and keep the Host the URL names.
            if let Some(port) = url.port() {
                if port != addr.port() {
                    let _ = request_url.set_port(Some(addr.port()));
                    if let Ok(v) = HeaderValue::from_str(&format!("{host}:{port}")) {
                        headers.insert(HOST, v);
                    }
                }
            }
            builder = builder.resolve(host.trim_start_matches('[').trim_end_matches(']'), addr);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let mut resp = client
            .get(request_url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| classify(url, e))?;

        let status = resp.status().as_u16();
        let mut recorded = Vec::new();
        let mut sts = Vec::new();
        for (name, value) in resp.headers() {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name.as_str() == "strict-transport-security" {
                sts.push(v.clone());
            }
            let mut shown = match name.as_str() {
                // Redirect targets carry sign-in codes and signed-URL signatures.
                "location" | "content-location" => match url.join(&v) {
                    Ok(target) => redact_url(&target).to_string(),
                    Err(_) => "[unparseable]".to_string(),
                },
                other => redact_header(other, &v),
            };
            if shown.len() > VALUE_CAP {
                shown = cap(&shown);
            }
            recorded.push((name.as_str().to_string(), shown));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let location = if matches!(status, 301 | 302 | 303 | 307 | 308) {
            match resp.headers().get(reqwest::header::LOCATION) {
                // A blank Location is no redirect (Chromium and Go's client, hence
                // hstspreload.org, take the response as final), not a redirect to itself.
                Some(loc) if !loc.as_bytes().iter().all(u8::is_ascii_whitespace) => {
                    let loc = String::from_utf8_lossy(loc.as_bytes()).into_owned();
                    let mut target = url.join(loc.trim()).map_err(|e| {
                        FetchError::Protocol(format!(
                            "{}: unusable Location header: {e}",
                            redact_url(url)
                        ))
                    })?;
                    // Credentials in a Location are never followed: reqwest would send them as
                    // Basic auth to the next host.
                    if !target.username().is_empty() || target.password().is_some() {
                        let _ = target.set_username("");
                        let _ = target.set_password(None);
                    }
                    Some(target)
                }
                _ => None,
            }
        } else {
            None
        };
        let mut body = None;
        let mut body_truncated = false;
        if read_body {
            let mut buf = Vec::new();
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = BODY_CAP - buf.len();
                        if chunk.len() > room {
                            buf.extend_from_slice(&chunk[..room]);
                            body_truncated = true;
                            break;
                        }
                        buf.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(classify(url, e)),
                }
            }
            body = Some(buf);
        }
        Ok(Response {
            url: url.clone(),
            status,
            headers: recorded,
            sts,
            location,
            content_type,
            body,
            body_truncated,
        })
    }

    /// Follows redirects from `start`, at most [`MAX_HOPS`] requests, recording each response.
    /// `read_body` reads each response's body (up to [`BODY_CAP`]).
    pub async fn follow(&self, start: &Url, max_hops: usize, read_body: bool) -> Followed {
        let mut responses: Vec<Response> = Vec::new();
        let mut url = start.clone();
        loop {
            if responses.len() == max_hops {
                return Followed {
                    start: start.clone(),
                    responses,
                    end: End::TooManyRedirects,
                };
            }
            match self.get(&url, read_body).await {
                Ok(r) => {
                    let next = r.location.clone();
                    responses.push(r);
                    match next {
                        Some(n) => url = n,
                        None => {
                            return Followed {
                                start: start.clone(),
                                responses,
                                end: End::Final,
                            };
                        }
                    }
                }
                Err(e) => {
                    return Followed {
                        start: start.clone(),
                        responses,
                        end: End::Failed(e),
                    };
                }
            }
        }
    }

    /// Whether `www.<domain>` exists (accepts TCP on 443) and, if so, completes a valid TLS
    /// handshake for its name: hstspreload.org's `www` check.
    pub async fn check_www(&self, domain: &str) -> super::hsts::WwwResult {
        use super::hsts::WwwResult;
        let name = format!("www.{domain}");
        let budget = match self.budget() {
            Ok(b) => b,
            Err(e) => return WwwResult::NoTls(e.message().to_string()),
        };
        let mapped = self.inventory.resolve_all(&name, 443);
        let addrs: Vec<SocketAddr> = match mapped.is_empty() {
            // `[resolve]` may map the name to several addresses: all of them, in order.
            false => mapped,
            true => {
                match tokio::time::timeout(budget, tokio::net::lookup_host((name.as_str(), 443)))
                    .await
                {
                    Ok(Ok(addrs)) => addrs.collect(),
                    Ok(Err(e)) => {
                        return WwwResult::Absent(format!("{name} does not resolve: {e}"));
                    }
                    Err(_) => return WwwResult::Absent(format!("resolving {name} timed out")),
                }
            }
        };
        if addrs.is_empty() {
            return WwwResult::Absent(format!("{name} has no address"));
        }
        // Every address, in order, as Go's dialer (hence hstspreload.org) tries them: `www`
        // exists when any of them accepts a connection.
        let mut failures = Vec::new();
        let mut connected = None;
        for addr in &addrs {
            let budget = match self.budget() {
                Ok(b) => b,
                Err(e) => return WwwResult::NoTls(e.message().to_string()),
            };
            match tokio::time::timeout(budget, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    connected = Some(s);
                    break;
                }
                Ok(Err(e)) => failures.push(format!("{name}:443 ({addr}): {e}")),
                Err(_) => failures.push(format!("{name}:443 ({addr}): connect timed out")),
            }
        }
        let Some(tcp) = connected else {
            return WwwResult::Absent(failures.join("; "));
        };
        let Ok(server_name) = ServerName::try_from(name.clone()) else {
            return WwwResult::NoTls(format!("{name} is not a valid TLS server name"));
        };
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        match tokio::time::timeout(budget, connector.connect(server_name, tcp)).await {
            Ok(Ok(_)) => WwwResult::Ok,
            Ok(Err(e)) => WwwResult::NoTls(format!("{name}: {e}")),
            Err(_) => WwwResult::NoTls(format!("{name}: TLS handshake timed out")),
        }
    }
}

/// rustls' error inside (possibly nested) io::Errors, whose `source` skips their payload.
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    find_rustls_error(inner as &(dyn std::error::Error + 'static))
}

/// Turns reqwest's error into vouch's, with the whole cause chain in the message.
fn classify(url: &Url, e: reqwest::Error) -> FetchError {
    // reqwest's own message names the URL as requested (maybe re-ported): use ours, redacted.
    let e = e.without_url();
    let mut msg = format!("{}: {e}", redact_url(url));
    let mut source = std::error::Error::source(&e);
    let mut certificate = false;
    let mut tls = false;
    let mut refused = false;
    while let Some(s) = source {
        match find_rustls_error(s) {
            Some(rustls::Error::InvalidCertificate(_)) => certificate = true,
            Some(_) => tls = true,
            None => {}
        }
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            refused = true;
        }
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    if e.is_timeout() {
        FetchError::Timeout(msg)
    } else if certificate {
        FetchError::Certificate(msg)
    } else if tls {
        FetchError::Tls(msg)
    } else if refused {
        FetchError::Refused(msg)
    } else if e.is_connect() {
        FetchError::Connect(msg)
    } else {
        FetchError::Protocol(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_evidence_carry_no_secrets() {
        let cases = [
            ("https://example.com/", "https://example.com/"),
            ("https://user:pw@example.com/x", "https://example.com/x"),
            (
                "https://sso.example.com/cb?code=abc123&state=xyz",
                "https://sso.example.com/cb?code=%5Bredacted%5D&state=xyz",
            ),
            (
                "https://b.s3.amazonaws.com/o?X-Amz-Signature=deadbeef&X-Amz-Expires=60",
                "https://b.s3.amazonaws.com/o?X-Amz-Signature=%5Bredacted%5D&X-Amz-Expires=60",
            ),
            ("https://example.com/?page=2", "https://example.com/?page=2"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                redact_url(&Url::parse(raw).unwrap()).as_str(),
                want,
                "{raw}"
            );
        }
    }
}
