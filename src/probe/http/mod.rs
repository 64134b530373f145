//! The `http` probe: HSTS as a browser and as hstspreload.org read it, the redirect chain,
//! preload-list status (offline), and RFC 9116 `security.txt`.
//!
//! A target is a bare domain (`example.com`: every check — `https://domain/`, `http://domain/`,
//! `www`, the domain-level rules), an `https://` URL (the header checks on that response) or an
//! `http://` URL (the redirect checks from it, as hstspreload.org makes them from
//! `http://domain`, so a non-default port can be checked too). Requests are recorded hop by hop
//! (`fetch`); the two HSTS readings and the preload rules are pure functions over those records
//! (`hsts`); the preload list is read once per run (`preload`); `securitytxt` reads the file.
//! The probe observes; controls decide what passes.

pub mod fetch;
pub mod hsts;
pub mod preload;
pub mod securitytxt;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use self::fetch::{End, FetchError, Fetcher, Followed, MAX_HOPS, cap, redact_url};
use self::hsts::{BrowserReading, Issues, WwwResult};
use self::preload::{PreloadCache, PreloadList};
use super::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const FACTS: &[FactSpec] = &[
    fact(
        "response.status",
        FactType::Integer,
        "HTTP status of the final response, redirects followed from the target (a domain: from https://domain/)",
    ),
    fact(
        "response.final_url",
        FactType::String,
        "URL of that final response",
    ),
    fact(
        "redirect.chain",
        FactType::Object,
        "every hop followed from the entry URL (a domain: http://domain/): url, status, location",
    ),
    fact(
        "redirect.http_to_https",
        FactType::Bool,
        "the plain-HTTP URL's first hop redirects to https:// on the same host (null: the port is closed)",
    ),
    fact(
        "redirect.http",
        FactType::String,
        "what plain HTTP does: to_https (first hop to https:// on the same host), elsewhere, no_redirect, or closed (connection refused: no plain HTTP at all)",
    ),
    fact(
        "hsts.present",
        FactType::Bool,
        "the HTTPS response carries a Strict-Transport-Security header",
    ),
    fact(
        "hsts.valid",
        FactType::Bool,
        "a browser honours the policy (RFC 6797 §6.1 as Chromium and Firefox parse it; only the first header counts)",
    ),
    fact(
        "hsts.max_age",
        FactType::Integer,
        "max-age in seconds as stated, when the policy is valid (browsers cap what they store at one year)",
    ),
    fact(
        "hsts.include_subdomains",
        FactType::Bool,
        "the valid policy has includeSubDomains",
    ),
    fact(
        "hsts.preload",
        FactType::Bool,
        "the valid policy has the preload directive",
    ),
    fact(
        "hsts.errors",
        FactType::StringList,
        "why a browser ignores the header (empty when valid)",
    ),
    fact(
        "hsts.raw",
        FactType::String,
        "the first Strict-Transport-Security header as served (null: none)",
    ),
    fact(
        "preload.eligible",
        FactType::Bool,
        "hstspreload.org's requirements that apply to this target form are all met",
    ),
    fact(
        "preload.issues",
        FactType::StringList,
        "hstspreload.org issue codes, one per unmet requirement (e.g. response.no_header); messages in the evidence",
    ),
    fact(
        "preload.listed",
        FactType::Bool,
        "the host is on the configured Chromium preload list (own entry, or an ancestor's with include_subdomains)",
    ),
    fact(
        "preload.include_subdomains",
        FactType::Bool,
        "the matching list entry covers subdomains (null: not listed)",
    ),
    fact(
        "preload.matched_entry",
        FactType::String,
        "the list entry that covers the host (null: not listed)",
    ),
    fact(
        "preload.list_sha256",
        FactType::String,
        "SHA-256 of the preload list file used",
    ),
    fact(
        "security_txt.present",
        FactType::Bool,
        "a text/plain file is served at https://host/.well-known/security.txt",
    ),
    fact(
        "security_txt.contact",
        FactType::StringList,
        "its Contact values (null: no file, or a file without Contact)",
    ),
    fact(
        "security_txt.expires",
        FactType::Timestamp,
        "its Expires (null: no file or no valid Expires)",
    ),
    fact(
        "security_txt.expired",
        FactType::Bool,
        "Expires is in the past (null: unknown)",
    ),
    fact(
        "security_txt.expires_in_days",
        FactType::Integer,
        "whole days from now until Expires, negative once past (RFC 9116 §2.5.5 recommends less than a year; null: unknown)",
    ),
    fact(
        "security_txt.errors",
        FactType::StringList,
        "how the file breaks RFC 9116 (empty when it conforms)",
    ),
];

const PRELOAD_FACTS: [&str; 4] = [
    "preload.listed",
    "preload.include_subdomains",
    "preload.matched_entry",
    "preload.list_sha256",
];

const SECURITY_TXT_FACTS: [&str; 6] = [
    "security_txt.present",
    "security_txt.contact",
    "security_txt.expires",
    "security_txt.expired",
    "security_txt.expires_in_days",
    "security_txt.errors",
];

/// What a target names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A bare domain: every check.
    Domain(String),
    /// An `https://` or `http://` URL.
    Url(Url),
}

impl Target {
    fn host(&self) -> String {
        match self {
            Target::Domain(d) => d.clone(),
            Target::Url(u) => u.host_str().unwrap_or_default().to_ascii_lowercase(),
        }
    }
}

fn parse_target(t: &str) -> Result<Target, String> {
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let url = Url::parse(t).map_err(|e| format!("`{t}` is not a valid URL: {e}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{t}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "`{t}` carries credentials; vouch does not send them (remove user:password@)"
            ));
        }
        return Ok(Target::Url(url));
    }
    if t.contains("://") {
        return Err(format!("`{t}`: only http:// and https:// URLs are probed"));
    }
    let d = lower.trim_end_matches('.');
    let valid = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return Err(format!(
            "`{t}` is neither a domain name nor an http(s):// URL (e.g. \"example.com\", \"https://example.com/\", \"http://example.com:8080/\"; internationalised names in punycode, xn--…)"
        ));
    }
    Ok(Target::Domain(d.to_string()))
}

type TlsCell = Arc<OnceCell<Result<Arc<rustls::ClientConfig>, ProbeError>>>;

/// The probe. One instance per run: it caches the preload list and the TLS roots.
#[derive(Default)]
pub struct HttpProbe {
    preload: PreloadCache,
    tls: Mutex<HashMap<Option<PathBuf>, TlsCell>>,
}

impl HttpProbe {
    async fn tls_config(
        &self,
        ctx: &ProbeContext,
    ) -> Result<Arc<rustls::ClientConfig>, ProbeError> {
        let key = ctx.inventory.tls.ca_file.clone();
        let cell = self
            .tls
            .lock()
            .expect("tls cache lock")
            .entry(key.clone())
            .or_default()
            .clone();
        cell.get_or_init(|| async move {
            // Reading the system store is blocking file I/O.
            tokio::task::spawn_blocking(move || fetch::tls_config(key.as_deref()).map(Arc::new))
                .await
                .unwrap_or_else(|e| Err(ProbeError::new(ProbeErrorKind::Other, e.to_string())))
        })
        .await
        .clone()
    }
}

/// A chain that did not reach a final response, as a probe error (URL targets need their own).
fn chain_error(chain: &Followed, timeout: Duration) -> Option<ProbeError> {
    match &chain.end {
        End::Final => None,
        End::TooManyRedirects => {
            let last = chain
                .last()
                .map(|r| redact_url(&r.url).to_string())
                .unwrap_or_default();
            Some(
                ProbeError::new(
                    ProbeErrorKind::Protocol,
                    format!(
                        "redirect loop or too many redirects: stopped after {MAX_HOPS} requests from {} (last: {last})",
                        redact_url(&chain.start)
                    ),
                )
                .with_hint("fix the redirect configuration; vouch follows at most 10 hops"),
            )
        }
        End::Failed(e) => Some(e.clone().into_probe_error(timeout)),
    }
}

fn record_hsts(obs: &mut Observation, reading: &BrowserReading, source: Option<&fetch::Response>) {
    obs.fact("hsts.present", reading.present)
        .fact("hsts.valid", reading.valid)
        .fact(
            "hsts.max_age",
            reading.max_age.map(|v| v.min(i64::MAX as u64)),
        )
        .fact("hsts.include_subdomains", reading.include_subdomains)
        .fact("hsts.preload", reading.preload)
        .fact(
            "hsts.errors",
            reading.errors.iter().map(|e| cap(e)).collect::<Vec<_>>(),
        )
        .fact("hsts.raw", reading.raw.as_deref().map(cap));
    if let Some(r) = source {
        obs.evidence(
            "hsts.source",
            json!({
                "url": redact_url(&r.url).as_str(),
                "headers": r.sts.iter().map(|v| cap(v)).collect::<Vec<_>>(),
            }),
        );
    }
}

fn record_issues(obs: &mut Observation, issues: &Issues) {
    // Messages quote header parts: keep them within the cap.
    let mut issues = issues.clone();
    for i in &mut issues.0 {
        i.message = cap(&i.message);
    }
    obs.fact("preload.eligible", !issues.has_errors())
        .fact("preload.issues", issues.error_codes());
    obs.evidence(
        "preload.issues",
        serde_json::to_value(issues.errors().collect::<Vec<_>>()).unwrap_or_default(),
    );
    obs.evidence(
        "preload.warnings",
        serde_json::to_value(issues.warnings().collect::<Vec<_>>()).unwrap_or_default(),
    );
}

/// What plain HTTP does from `http_url`: `redirect.chain`, `redirect.http_to_https` and
/// `redirect.http`. A refused connection is observed as `closed` (no plain HTTP at all, which
/// hstspreload.org only warns about); any other failure leaves the facts unobserved.
fn record_http(obs: &mut Observation, http_url: &Url, chain: &Followed) {
    obs.fact("redirect.chain", chain.hops_json());
    let as_chain = chain.as_chain();
    match hsts::http_to_https(http_url, &as_chain) {
        Some(to_https) => {
            let first = &chain.responses[0];
            let what = if to_https {
                "to_https"
            } else if first.location.is_some() {
                "elsewhere"
            } else {
                "no_redirect"
            };
            obs.fact("redirect.http_to_https", to_https)
                .fact("redirect.http", what);
        }
        None => match &chain.end {
            End::Failed(FetchError::Refused(_)) => {
                obs.fact("redirect.http_to_https", Value::Null)
                    .fact("redirect.http", "closed");
            }
            end => {
                let why = match end {
                    End::Failed(e) => e.message().to_string(),
                    _ => "no response".into(),
                };
                let why = format!(
                    "{} could not be observed: {why} (only a refused connection shows that nothing serves plain HTTP)",
                    redact_url(http_url)
                );
                obs.unobserved("redirect.http_to_https", why.clone());
                obs.unobserved("redirect.http", why);
            }
        },
    }
}

fn record_final(obs: &mut Observation, chain: &Followed) {
    match (&chain.end, chain.last()) {
        (End::Final, Some(last)) => {
            obs.fact("response.status", last.status)
                .fact("response.final_url", redact_url(&last.url).as_str());
        }
        (end, _) => {
            let why = match end {
                End::TooManyRedirects => format!(
                    "more than {MAX_HOPS} redirects from {}: no final response",
                    redact_url(&chain.start)
                ),
                End::Failed(e) => format!(
                    "following {} failed: {}",
                    redact_url(&chain.start),
                    e.message()
                ),
                End::Final => "no response".into(),
            };
            obs.unobserved("response.status", why.clone());
            obs.unobserved("response.final_url", why);
        }
    }
}

impl HttpProbe {
    /// Loads the preload list (once per run): the file `[http] preload_list` names, else
    /// Chromium's published list from `[http] preload_list_url` (default
    /// [`preload::DEFAULT_URL`]), fetched at most once a day into the user's cache.
    async fn load_preload(&self, ctx: &ProbeContext) -> Result<Arc<PreloadList>, String> {
        let http = &ctx.inventory.http;
        if let Some(path) = &http.preload_list {
            return self.preload.get(path).await;
        }
        let url = http
            .preload_list_url
            .as_deref()
            .unwrap_or(preload::DEFAULT_URL);
        let tls = self.tls_config(ctx).await.ok();
        self.preload.get_remote(url, tls).await
    }
}

fn record_preload_list(
    obs: &mut Observation,
    host: &str,
    loaded: Result<Arc<PreloadList>, String>,
) {
    match loaded {
        Ok(list) => {
            let m = list.lookup(host);
            obs.fact("preload.listed", m.is_some())
                .fact(
                    "preload.include_subdomains",
                    m.as_ref().map(|m| m.include_subdomains),
                )
                .fact("preload.matched_entry", m.as_ref().map(|m| m.entry.clone()))
                .fact("preload.list_sha256", list.sha256.clone());
            let mut evidence = json!({
                "path": list.path.display().to_string(),
                "sha256": list.sha256,
                "hsts_entries": list.len(),
            });
            if let Some(f) = &list.fetched {
                evidence["source"] = json!(f.source);
                evidence["fetched_at"] = json!(f.fetched_at.to_string());
            }
            obs.evidence("preload.list", evidence);
        }
        Err(e) => {
            for f in PRELOAD_FACTS {
                obs.unobserved(f, format!("the preload list could not be read: {e}"));
            }
        }
    }
}

/// Fetches `/.well-known/security.txt` at `origin` (an https:// URL); `None` without an origin.
async fn fetch_security_txt(fetcher: &Fetcher, origin: Option<&Url>) -> Option<Followed> {
    let url = origin?.join("/.well-known/security.txt").ok()?;
    Some(fetcher.follow(&url, 4, true).await)
}

/// Records what `/.well-known/security.txt` gave (redirects must stay on HTTPS).
fn record_security_txt(obs: &mut Observation, fetched: Option<Followed>) {
    let Some(chain) = fetched else {
        for f in SECURITY_TXT_FACTS {
            obs.unobserved(f, "no HTTPS origin to fetch /.well-known/security.txt from");
        }
        return;
    };
    let url = redact_url(&chain.start);
    obs.evidence("security_txt.requests", chain.evidence_json());
    let absent = |obs: &mut Observation, errors: Vec<String>| {
        obs.fact("security_txt.present", false)
            .fact("security_txt.contact", Value::Null)
            .fact("security_txt.expires", Value::Null)
            .fact("security_txt.expired", Value::Null)
            .fact("security_txt.expires_in_days", Value::Null)
            .fact("security_txt.errors", errors);
    };
    let last = match (&chain.end, chain.last()) {
        (End::Final, Some(last)) => last,
        (End::TooManyRedirects, _) => {
            absent(obs, vec![format!("{url}: too many redirects")]);
            return;
        }
        (End::Failed(e), _) => {
            for f in SECURITY_TXT_FACTS {
                obs.unobserved(f, format!("{url} could not be fetched: {}", e.message()));
            }
            return;
        }
        (End::Final, None) => {
            for f in SECURITY_TXT_FACTS {
                obs.unobserved(f, format!("{url}: no response"));
            }
            return;
        }
    };
    if let Some(off) = chain.responses.iter().find(|r| r.url.scheme() != "https") {
        absent(
            obs,
            vec![format!("redirected off HTTPS to {}", redact_url(&off.url))],
        );
        return;
    }
    if last.status == 404 || last.status == 410 {
        absent(obs, vec![]);
        return;
    }
    if last.status != 200 {
        absent(
            obs,
            vec![format!(
                "{} answered HTTP {}",
                redact_url(&last.url),
                last.status
            )],
        );
        return;
    }
    let body = last.body.as_deref().unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    let is_plain = last
        .content_type
        .as_deref()
        .is_some_and(securitytxt::is_text_plain);
    let mut parsed = securitytxt::parse(&text, last.content_type.as_deref());
    match std::str::from_utf8(body) {
        // A cut at the cap may split a character: that is the cap's doing, not the file's.
        Err(e) if !(last.body_truncated && e.error_len().is_none()) => {
            parsed.errors.push("the file is not UTF-8".into());
        }
        _ => {}
    }
    if last.body_truncated {
        parsed
            .errors
            .push("the file is larger than 1 MiB (read cut there)".into());
    }
    if !is_plain {
        // A catch-all HTML page at that path is not a security.txt.
        absent(obs, parsed.errors);
        return;
    }
    let now = Timestamp::now();
    // A list with nothing in it is null ("looked, found nothing"), so `exists` cannot hold on a
    // file without Contact.
    let contact = (!parsed.contact.is_empty())
        .then(|| parsed.contact.iter().map(|c| cap(c)).collect::<Vec<_>>());
    let in_days = parsed.expires.map(|t| {
        t.as_second()
            .saturating_sub(now.as_second())
            .div_euclid(86_400)
    });
    obs.fact("security_txt.present", true)
        .fact("security_txt.contact", contact)
        .fact(
            "security_txt.expires",
            parsed.expires.map(|t| t.to_string()),
        )
        .fact("security_txt.expired", parsed.expired(now))
        .fact("security_txt.expires_in_days", in_days)
        .fact(
            "security_txt.errors",
            parsed.errors.iter().map(|e| cap(e)).collect::<Vec<_>>(),
        );
    obs.attach("security.txt", "text/plain", text.into_owned());
}

#[async_trait]
impl Probe for HttpProbe {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn description(&self) -> &'static str {
        "HSTS as browsers and hstspreload.org read it, redirects, preload-list status, security.txt"
    }

    fn target_syntax(&self) -> &'static str {
        "a domain (example.com) or a URL (https://example.com/, http://example.com:8080/)"
    }

    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }

    fn check_target(&self, target: &str) -> Result<(), String> {
        parse_target(target).map(|_| ())
    }

    fn host_key(&self, target: &str) -> String {
        parse_target(target)
            .map(|t| t.host())
            .unwrap_or_else(|_| target.to_string())
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let started = Instant::now();
        let parsed =
            parse_target(target).map_err(|m| ProbeError::new(ProbeErrorKind::InvalidTarget, m))?;
        let timeout = ctx.options.timeout;
        // Finish inside the engine's timeout so a slow hop is reported as ours, with its URL.
        let deadline = started + timeout.mul_f64(0.9);
        let tls = self.tls_config(ctx).await?;
        let fetcher = Fetcher {
            tls,
            inventory: ctx.inventory.clone(),
            per_request: (timeout / 2).max(Duration::from_millis(500)),
            deadline,
        };
        let mut obs = Observation::new(self.kind(), target);
        // The list loads (once per run) while the requests are in flight.
        // A download of Chromium's list is bounded by this observation's budget (it goes on in
        // the background and lands in the cache; the live facts are kept either way).
        let list = async {
            tokio::time::timeout_at(deadline, self.load_preload(ctx))
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "the preload list was not fetched within the {} timeout (it goes on \
                         downloading into the cache for the next run); pass a downloaded copy \
                         with `[http] preload_list` or --preload-list for an offline run",
                        crate::probe::humantime(timeout)
                    ))
                })
        };
        let (live, loaded) = tokio::join!(observe_live(&parsed, &fetcher, timeout, &mut obs), list);
        live?;
        record_preload_list(&mut obs, &parsed.host(), loaded);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        Some(render(obs))
    }
}

/// When a chain failed on its first request because of the certificate, follows it again with
/// certificate checks off; returns the chain to use and the certificate error, if any.
async fn retry_unverified(fetcher: &Fetcher, chain: Followed) -> (Followed, Option<String>) {
    match (&chain.end, chain.responses.is_empty()) {
        (End::Failed(FetchError::Certificate(why)), true) => {
            let why = why.clone();
            let again = fetcher
                .unverified()
                .follow(&chain.start, MAX_HOPS, false)
                .await;
            if again.responses.is_empty() {
                (chain, None)
            } else {
                (again, Some(why))
            }
        }
        _ => (chain, None),
    }
}

/// The requests and what they show, for each target form. `Err` when the target's own response
/// cannot be had (refused, timed out, a redirect loop on a URL target).
async fn observe_live(
    parsed: &Target,
    fetcher: &Fetcher,
    timeout: Duration,
    obs: &mut Observation,
) -> Result<(), ProbeError> {
    let bad_url = |e: <Url as std::str::FromStr>::Err| {
        ProbeError::new(ProbeErrorKind::InvalidTarget, e.to_string())
    };
    match parsed {
        Target::Domain(domain) => {
            let https_url = Url::parse(&format!("https://{domain}/")).map_err(bad_url)?;
            let http_url = Url::parse(&format!("http://{domain}/")).map_err(bad_url)?;
            let domain_issues = hsts::domain_issues(domain);
            // hstspreload.org stops at a format error; the subdomain check does not stop it.
            let format_error = domain_issues
                .errors()
                .any(|i| i.code.starts_with("domain.format."));
            let registrable = !domain_issues.has_errors();
            // hstspreload.org waives the www check on a few eTLDs where www cannot have HTTPS.
            let www_waived = psl::suffix_str(domain).is_some_and(|s| s == "appspot.com");
            let (https_chain, http_chain, www, security_txt) = tokio::join!(
                fetcher.follow(&https_url, MAX_HOPS, false),
                fetcher.follow(&http_url, MAX_HOPS, false),
                async {
                    if registrable && !www_waived {
                        fetcher.check_www(domain).await
                    } else {
                        WwwResult::Skipped
                    }
                },
                fetch_security_txt(fetcher, Some(&https_url)),
            );
            // A certificate a browser rejects: see what the site serves anyway, and report the
            // certificate as the issue (hstspreload.org does the same).
            let (https_chain, certificate_error) = retry_unverified(fetcher, https_chain).await;
            obs.evidence("requests.https", https_chain.evidence_json());
            obs.evidence("requests.http", http_chain.evidence_json());
            obs.evidence("www", serde_json::to_value(&www).unwrap_or_default());
            record_http(obs, &http_url, &http_chain);
            let mut issues = domain_issues;
            // Without a first HTTPS response there is nothing to read HSTS from.
            let Some(first) = https_chain.responses.first() else {
                match &https_chain.end {
                    // TCP connected but no TLS session: what hstspreload.org calls
                    // domain.tls.cannot_connect, an observation (no browser gets in either).
                    End::Failed(FetchError::Tls(why)) => {
                        if !format_error {
                            issues.extend(hsts::cannot_connect_issues(&https_url, why));
                        }
                        let reason = format!("no HTTPS response: {why}");
                        for f in [
                            "response.status",
                            "response.final_url",
                            "hsts.present",
                            "hsts.valid",
                            "hsts.max_age",
                            "hsts.include_subdomains",
                            "hsts.preload",
                            "hsts.errors",
                            "hsts.raw",
                        ] {
                            obs.unobserved(f, reason.clone());
                        }
                        record_issues(obs, &issues);
                        record_security_txt(obs, security_txt);
                        return Ok(());
                    }
                    End::Failed(e) => return Err(e.clone().into_probe_error(timeout)),
                    _ => {
                        return Err(FetchError::Protocol(format!("{https_url}: no response"))
                            .into_probe_error(timeout));
                    }
                }
            };
            record_final(obs, &https_chain);
            let mut reading = hsts::browser_reading(&first.sts);
            if let Some(why) = &certificate_error {
                reading = hsts::ignored_for_certificate(reading, why);
            }
            record_hsts(obs, &reading, Some(first));
            if format_error {
                // Nothing but the format error, as on hstspreload.org.
            } else if let Some(why) = &certificate_error {
                // hstspreload.org makes no further check once the certificate is invalid.
                issues.extend(hsts::invalid_certificate_issues(&https_url, why));
            } else {
                let response_issues = hsts::preloadable_response(&first.sts);
                let response_ok = !response_issues.has_errors();
                issues.extend(response_issues);
                let (general, first_redirect) =
                    hsts::http_redirect_issues(&http_url, &http_chain.as_chain());
                issues.extend(general);
                // Redundant when the HTTPS response's own header already fails (as on the site).
                if response_ok {
                    issues.extend(first_redirect);
                }
                issues.extend(hsts::https_redirect_issues(
                    &https_url,
                    &https_chain.as_chain(),
                ));
                issues.extend(hsts::www_issues(domain, &www));
            }
            record_issues(obs, &issues);
            record_security_txt(obs, security_txt);
        }
        Target::Url(url) if url.scheme() == "https" => {
            let origin = url.join("/").ok();
            let (chain, security_txt) = tokio::join!(
                fetcher.follow(url, MAX_HOPS, false),
                fetch_security_txt(fetcher, origin.as_ref()),
            );
            let (chain, certificate_error) = retry_unverified(fetcher, chain).await;
            obs.evidence("requests.https", chain.evidence_json());
            if let Some(e) = chain_error(&chain, timeout) {
                return Err(e);
            }
            let first = &chain.responses[0];
            record_final(obs, &chain);
            obs.fact("redirect.chain", chain.hops_json());
            for f in ["redirect.http_to_https", "redirect.http"] {
                obs.unobserved(
                    f,
                    "the target is an https:// URL; give the domain or an http:// URL to check the plain-HTTP redirect",
                );
            }
            let mut reading = hsts::browser_reading(&first.sts);
            let mut issues = Issues::default();
            if let Some(why) = &certificate_error {
                reading = hsts::ignored_for_certificate(reading, why);
                // hstspreload.org makes no further check once the certificate is invalid.
                issues.extend(hsts::invalid_certificate_issues(url, why));
            } else {
                issues.extend(hsts::preloadable_response(&first.sts));
            }
            record_hsts(obs, &reading, Some(first));
            record_issues(obs, &issues);
            record_security_txt(obs, security_txt);
        }
        Target::Url(url) => {
            let chain = fetcher.follow(url, MAX_HOPS, false).await;
            obs.evidence("requests.http", chain.evidence_json());
            if let Some(e) = chain_error(&chain, timeout) {
                return Err(e);
            }
            record_final(obs, &chain);
            record_http(obs, url, &chain);
            let as_chain = chain.as_chain();
            // Only an HTTPS response on the target's own host speaks for it (hstspreload.org's
            // rule): another host's policy protects that host, not this one.
            let host = url.host_str().unwrap_or_default();
            let own_https = chain.responses.iter().find(|r| {
                r.url.scheme() == "https"
                    && r.url
                        .host_str()
                        .is_some_and(|h| h.eq_ignore_ascii_case(host))
            });
            match own_https {
                Some(r) => record_hsts(obs, &hsts::browser_reading(&r.sts), Some(r)),
                None => {
                    let mut reading = hsts::browser_reading(&[]);
                    let why = format!(
                        "no HTTPS response on {host} in the redirect chain: HSTS is read only from the target's own host over HTTPS, never from another host's response"
                    );
                    reading.errors = vec![why.clone()];
                    record_hsts(obs, &reading, None);
                    obs.evidence("hsts.source", json!({ "url": null, "note": why }));
                }
            }
            let (mut issues, first_redirect) = hsts::http_redirect_issues(url, &as_chain);
            issues.extend(first_redirect);
            record_issues(obs, &issues);
            // security.txt of the target's own host: the origin it redirected to on that host,
            // or else https://host/ itself; never another host's file.
            let origin = match own_https {
                Some(r) => r.url.join("/").ok(),
                None => Url::parse(&format!("https://{host}/")).ok(),
            };
            record_security_txt(obs, fetch_security_txt(fetcher, origin.as_ref()).await);
        }
    }
    Ok(())
}

fn fact_str(obs: &Observation, path: &str) -> Option<String> {
    obs.facts.get(path).map(|v| match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    })
}

/// The spot check: redirect chain, both HSTS readings, preload eligibility, list status.
pub fn render(obs: &Observation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "http {}", obs.target);

    let _ = writeln!(out, "\nRedirect chain");
    match obs.facts.get("redirect.chain").and_then(Value::as_array) {
        Some(hops) if !hops.is_empty() => {
            for (i, hop) in hops.iter().enumerate() {
                let url = hop["url"].as_str().unwrap_or_default();
                let status = &hop["status"];
                match hop["location"].as_str() {
                    Some(loc) => {
                        let _ = writeln!(out, "  {}. {url}  {status} -> {loc}", i + 1);
                    }
                    None => {
                        let _ = writeln!(out, "  {}. {url}  {status}", i + 1);
                    }
                }
            }
        }
        _ => {
            let _ = writeln!(out, "  (no response over plain HTTP)");
        }
    }
    if let Some(v) = fact_str(obs, "redirect.http_to_https") {
        let _ = writeln!(out, "  first hop to https on the same host: {v}");
    }
    if let Some(v) = fact_str(obs, "redirect.http") {
        let _ = writeln!(out, "  plain HTTP: {v}");
    }
    if let (Some(status), Some(url)) = (
        fact_str(obs, "response.status"),
        fact_str(obs, "response.final_url"),
    ) {
        let _ = writeln!(out, "  final response: {status} at {url}");
    } else if let Some(why) = obs.unobserved.get("response.status") {
        let _ = writeln!(out, "  final response: not reached ({why})");
    }

    let _ = writeln!(out, "\nHSTS as a browser reads it");
    let raw = fact_str(obs, "hsts.raw").unwrap_or_else(|| "none".into());
    let _ = writeln!(out, "  header: {raw}");
    if obs.facts.get("hsts.valid") == Some(&Value::Bool(true)) {
        let max_age = obs
            .facts
            .get("hsts.max_age")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut flags = vec![format!(
            "max-age={max_age} ({})",
            crate::expect::format_duration(max_age)
        )];
        if obs.facts.get("hsts.include_subdomains") == Some(&Value::Bool(true)) {
            flags.push("includeSubDomains".into());
        }
        if obs.facts.get("hsts.preload") == Some(&Value::Bool(true)) {
            flags.push("preload".into());
        }
        let _ = writeln!(out, "  valid: {}", flags.join(", "));
    } else {
        let _ = writeln!(out, "  not honoured:");
        for e in obs
            .facts
            .get("hsts.errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let _ = writeln!(out, "    - {}", e.as_str().unwrap_or_default());
        }
    }

    let _ = writeln!(out, "\nHSTS as hstspreload.org judges it");
    if obs.facts.get("preload.eligible") == Some(&Value::Bool(true)) {
        let _ = writeln!(out, "  eligible: every requirement met");
    } else {
        let _ = writeln!(out, "  not eligible:");
        for i in obs
            .evidence
            .get("preload.issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let _ = writeln!(
                out,
                "    - {}: {}",
                i["code"].as_str().unwrap_or_default(),
                i["message"].as_str().unwrap_or_default()
            );
        }
    }
    let warnings: Vec<&Value> = obs
        .evidence
        .get("preload.warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(out, "  warnings:");
        for w in warnings {
            let _ = writeln!(
                out,
                "    - {}: {}",
                w["code"].as_str().unwrap_or_default(),
                w["message"].as_str().unwrap_or_default()
            );
        }
    }

    let _ = writeln!(out, "\nPreload list");
    match obs.facts.get("preload.listed") {
        Some(Value::Bool(true)) => {
            let entry = fact_str(obs, "preload.matched_entry").unwrap_or_default();
            let subs = obs.facts.get("preload.include_subdomains") == Some(&Value::Bool(true));
            let _ = writeln!(
                out,
                "  listed as {entry}{}",
                if subs { " (include_subdomains)" } else { "" }
            );
        }
        Some(_) => {
            let _ = writeln!(out, "  not listed");
        }
        None => {
            let why = obs
                .unobserved
                .get("preload.listed")
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(out, "  not checked: {why}");
        }
    }
    if let Some(sha) = fact_str(obs, "preload.list_sha256") {
        let _ = writeln!(out, "  list sha256: {sha}");
    }

    let _ = writeln!(out, "\nsecurity.txt");
    match obs.facts.get("security_txt.present") {
        Some(Value::Bool(true)) => {
            let contacts: Vec<String> = obs
                .facts
                .get("security_txt.contact")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect();
            let _ = writeln!(out, "  present; contact: {}", contacts.join(", "));
            let expires = fact_str(obs, "security_txt.expires").unwrap_or_else(|| "none".into());
            let expired = obs.facts.get("security_txt.expired") == Some(&Value::Bool(true));
            let _ = writeln!(
                out,
                "  expires: {expires}{}",
                if expired { " (EXPIRED)" } else { "" }
            );
        }
        Some(_) => {
            let _ = writeln!(out, "  absent");
        }
        None => {
            let why = obs
                .unobserved
                .get("security_txt.present")
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(out, "  not checked: {why}");
        }
    }
    for e in obs
        .facts
        .get("security_txt.errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "    - {}", e.as_str().unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_forms() {
        assert_eq!(
            parse_target("Example.COM."),
            Ok(Target::Domain("example.com".into()))
        );
        assert!(matches!(
            parse_target("https://example.com/x"),
            Ok(Target::Url(_))
        ));
        assert!(matches!(
            parse_target("http://example.com:8080/"),
            Ok(Target::Url(_))
        ));
        for bad in [
            "",
            "ftp://example.com/",
            "https://",
            "https://user:pw@example.com/",
            "exa mple.com",
            "-bad.com",
            "example..com",
            "example.com:443",
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn every_declared_fact_is_unique_and_typed() {
        let mut seen = std::collections::BTreeSet::new();
        for f in FACTS {
            assert!(seen.insert(f.path), "{} declared twice", f.path);
        }
        for f in PRELOAD_FACTS.iter().chain(SECURITY_TXT_FACTS.iter()) {
            assert!(seen.contains(f), "{f} is recorded but not declared");
        }
        let probe = HttpProbe::default();
        assert_eq!(
            probe.fact_spec("hsts.max_age").unwrap().ty,
            FactType::Integer
        );
        assert_eq!(
            probe.fact_spec("preload.issues").unwrap().ty,
            FactType::StringList
        );
        assert_eq!(
            probe.fact_spec("redirect.chain").unwrap().ty,
            FactType::Object
        );
        assert_eq!(probe.host_key("https://Example.com:8443/x"), "example.com");
    }
}
