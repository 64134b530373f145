//! The GitHub REST client of the `github` probe: one token, one API root (`[github] api_url`
//! for GitHub Enterprise Server), every page of a listing by its `Link` header, the primary
//! rate limit (`x-ratelimit-remaining` / `x-ratelimit-reset`: wait for the reset when it falls
//! within the observation's time, else stop with an error naming it), secondary limits
//! (`retry-after`), and conditional requests (`If-None-Match`: a `304` costs no rate limit)
//! against a cache shared by the run. Every response is kept as evidence: status, the headers
//! an auditor needs, and the body with secrets removed. The token is sent only to the API's
//! own origin and never written anywhere.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::{Value, json};

use crate::probe::{Observation, ProbeError, ProbeErrorKind};

/// `https://api.github.com`, when `[github] api_url` is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version vouch reads (GitHub's `X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";
/// Page size for listings (GitHub's maximum).
pub const PER_PAGE: u32 = 100;
/// Retries of one request after a secondary rate limit.
const SECONDARY_RETRIES: u32 = 3;
/// Response headers kept in evidence.
const KEPT_HEADERS: [&str; 11] = [
    "etag",
    "link",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-oauth-scopes",
    "x-accepted-oauth-scopes",
    "x-accepted-github-permissions",
    "x-github-request-id",
];

/// Responses kept for conditional requests, by URL (shared by a run's observations).
#[derive(Default, Debug)]
pub struct EtagCache {
    entries: Mutex<HashMap<String, (String, Response)>>,
}

/// One answer of the API.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-case names of [`KEPT_HEADERS`] present.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    /// The `rel="next"` page, when there is one.
    pub next: Option<String>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// GitHub's error `message`, or "".
    pub fn message(&self) -> &str {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// What the token would need for this endpoint, from GitHub's own headers.
    pub fn needed(&self) -> Option<String> {
        let mut out = Vec::new();
        if let Some(p) = self
            .headers
            .get("x-accepted-github-permissions")
            .filter(|s| !s.is_empty())
        {
            out.push(format!("permissions {p}"));
        }
        if let Some(s) = self
            .headers
            .get("x-accepted-oauth-scopes")
            .filter(|s| !s.is_empty())
        {
            out.push(format!("scopes {s}"));
        }
        (!out.is_empty()).then(|| out.join("; "))
    }

    /// The error for a refused read of `what`: GitHub's status and message, and as the hint
    /// what the token needs (GitHub's headers, else `default_need`).
    pub fn refused(&self, what: &str, default_need: &str) -> ProbeError {
        ProbeError::new(
            ProbeErrorKind::Denied,
            format!(
                "GitHub answered {} to {what}: {}",
                self.status,
                self.message()
            ),
        )
        .with_hint(format!(
            "the token needs {}",
            self.needed().unwrap_or_else(|| default_need.into())
        ))
    }
}

/// A client for one observation: its deadline, its evidence.
pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: String,
    deadline: Instant,
    cache: Arc<EtagCache>,
    calls: Mutex<Vec<Value>>,
}

/// The token, from `[github] token_env`, else `GITHUB_TOKEN`, else `GH_TOKEN`.
pub fn token(token_env: Option<&str>) -> Result<String, ProbeError> {
    let names: Vec<&str> = match token_env {
        Some(n) => vec![n],
        None => vec!["GITHUB_TOKEN", "GH_TOKEN"],
    };
    for n in &names {
        if let Ok(v) = std::env::var(n) {
            let v = v.trim().to_string();
            if !v.is_empty() {
                return Ok(v);
            }
        }
    }
    Err(ProbeError::new(
        ProbeErrorKind::Config,
        format!("no GitHub token: {} is not set", names.join(" or ")),
    )
    .with_hint(
        "export GITHUB_TOKEN (or GH_TOKEN), or name the variable in the inventory's \
         [github] token_env; the token needs read access to the repositories (and \
         security_events / admin:org read for the security and organisation facts)",
    ))
}

impl Api {
    pub fn new(
        base: &str,
        token: String,
        tls: rustls::ClientConfig,
        budget: Duration,
        cache: Arc<EtagCache>,
    ) -> Result<Api, ProbeError> {
        let mut base = Url::parse(base).map_err(|e| {
            ProbeError::new(
                ProbeErrorKind::Config,
                format!("[github] api_url `{base}` is not a URL: {e}"),
            )
            .with_hint("e.g. \"https://github.example.com/api/v3\" for GitHub Enterprise Server")
        })?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(budget)
            .connect_timeout(budget)
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ProbeError::new(
                    ProbeErrorKind::Other,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        Ok(Api {
            http,
            base,
            token,
            deadline: Instant::now() + budget,
            cache,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// The URL of an API path (`repos/o/r`), relative to the API root.
    fn url(&self, path: &str) -> Result<Url, ProbeError> {
        self.base.join(path.trim_start_matches('/')).map_err(|e| {
            ProbeError::new(ProbeErrorKind::Other, format!("bad API path {path}: {e}"))
        })
    }

    /// The path and query of `url` below the API root, for evidence and messages.
    fn shown(&self, url: &Url) -> String {
        let s = url.as_str();
        s.strip_prefix(self.base.as_str())
            .map(|p| format!("/{p}"))
            .unwrap_or_else(|| s.to_string())
    }

    /// One GET of `path` (below the API root), rate limits handled.
    pub async fn get(&self, path: &str) -> Result<Response, ProbeError> {
        let url = self.url(path)?;
        self.get_url(url).await
    }

    /// Every page of a listing (`Link: rel="next"`), or the first answer that is not a 2xx.
    pub async fn get_all(&self, path: &str) -> Result<Result<Vec<Value>, Response>, ProbeError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = self.url(&format!("{path}{sep}per_page={PER_PAGE}"))?;
        let mut items = Vec::new();
        loop {
            let resp = self.get_url(url).await?;
            if !resp.ok() {
                return Ok(Err(resp));
            }
            match &resp.body {
                Value::Array(a) => items.extend(a.iter().cloned()),
                other => {
                    return Err(ProbeError::new(
                        ProbeErrorKind::Protocol,
                        format!(
                            "{path}: expected a JSON array, got {}",
                            match other {
                                Value::Object(_) => "an object",
                                _ => "something else",
                            }
                        ),
                    ));
                }
            }
            match &resp.next {
                Some(next) => {
                    let n = Url::parse(next).map_err(|e| {
                        ProbeError::new(
                            ProbeErrorKind::Protocol,
                            format!("{path}: bad Link next URL: {e}"),
                        )
                    })?;
                    // The token goes only to the API's own origin.
                    if n.origin() != self.base.origin() {
                        return Err(ProbeError::new(
                            ProbeErrorKind::Protocol,
                            format!(
                                "{path}: the next page points to another origin ({})",
                                n.origin().ascii_serialization()
                            ),
                        ));
                    }
                    url = n;
                }
                None => return Ok(Ok(items)),
            }
        }
    }

    async fn get_url(&self, url: Url) -> Result<Response, ProbeError> {
        let key = url.as_str().to_string();
        let mut secondary = 0;
        loop {
            let cached = self
                .cache
                .entries
                .lock()
                .expect("etag cache")
                .get(&key)
                .cloned();
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ProbeError::timeout(Duration::ZERO));
            }
            let mut req = self
                .http
                .get(url.clone())
                .timeout(remaining)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", API_VERSION)
                .header("Authorization", format!("Bearer {}", self.token));
            if let Some((etag, _)) = &cached {
                req = req.header("If-None-Match", etag.as_str());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| self.transport_error(&url, e))?;
            let status = resp.status().as_u16();
            let headers: BTreeMap<String, String> = KEPT_HEADERS
                .iter()
                .filter_map(|h| {
                    resp.headers()
                        .get(*h)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| (h.to_string(), crate::probe::redact_header(h, v)))
                })
                .collect();
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| self.transport_error(&url, e))?;
            if status == 304 {
                if let Some((_, mut old)) = cached {
                    self.record(
                        &url,
                        304,
                        &headers,
                        &json!("(not modified: the cached body)"),
                    );
                    old.headers.extend(headers);
                    return Ok(old);
                }
            }
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).into())
                })
            };
            let next = headers.get("link").and_then(|l| next_link(l));
            let out = Response {
                status,
                headers,
                body,
                next,
            };
            self.record(&url, status, &out.headers, &out.body);

            if status == 403 || status == 429 {
                if let Some(wait) = self.rate_limit_wait(&out, &mut secondary)? {
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            if status == 401 {
                return Err(ProbeError::new(
                    ProbeErrorKind::Denied,
                    format!(
                        "GitHub refused the token: {} ({})",
                        out.message(),
                        self.shown(&url)
                    ),
                )
                .with_hint("the token is invalid or expired: create a new one and export it"));
            }
            if out.ok() {
                if let Some(etag) = out.headers.get("etag") {
                    self.cache
                        .entries
                        .lock()
                        .expect("etag cache")
                        .insert(key.clone(), (etag.clone(), out.clone()));
                }
            }
            return Ok(out);
        }
    }

    /// `Some(wait)` to retry after a rate limit that ends within the deadline; an error when it
    /// ends later; `None` when the answer is no rate limit at all.
    fn rate_limit_wait(
        &self,
        r: &Response,
        secondary: &mut u32,
    ) -> Result<Option<Duration>, ProbeError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if let Some(after) = r.headers.get("retry-after") {
            let secs: u64 = after.trim().parse().unwrap_or(60);
            let wait = Duration::from_secs(secs);
            *secondary += 1;
            if *secondary <= SECONDARY_RETRIES && wait < remaining {
                return Ok(Some(wait));
            }
            return Err(ProbeError::new(
                ProbeErrorKind::Other,
                format!(
                    "GitHub's secondary rate limit: retry after {secs}s ({})",
                    r.message()
                ),
            )
            .with_hint(
                "too many requests at once: lower --concurrency or --per-host, or raise --timeout",
            ));
        }
        let exhausted = r.headers.get("x-ratelimit-remaining").map(String::as_str) == Some("0");
        if exhausted {
            let reset: i64 = r
                .headers
                .get("x-ratelimit-reset")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            let now = jiff::Timestamp::now().as_second();
            // One second past the reset: GitHub's clock and ours differ by a little.
            let wait = Duration::from_secs((reset - now).max(0) as u64 + 1);
            if wait < remaining {
                return Ok(Some(wait));
            }
            let at = jiff::Timestamp::from_second(reset)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| reset.to_string());
            return Err(ProbeError::new(
                ProbeErrorKind::Other,
                format!(
                    "GitHub's rate limit is used up until {at} ({} requests per hour for this token)",
                    r.headers.get("x-ratelimit-limit").map(String::as_str).unwrap_or("?")
                ),
            )
            .with_hint(format!(
                "run again after {at}, raise --timeout to wait for it, or use a token with a \
                 higher limit (a GitHub App installation)"
            )));
        }
        if r.message()
            .to_ascii_lowercase()
            .contains("secondary rate limit")
        {
            *secondary += 1;
            let wait = Duration::from_secs(60);
            if *secondary <= SECONDARY_RETRIES && wait < remaining {
                return Ok(Some(wait));
            }
            return Err(ProbeError::new(
                ProbeErrorKind::Other,
                format!("GitHub's secondary rate limit: {}", r.message()),
            )
            .with_hint("wait a minute and run again, with a lower --concurrency"));
        }
        Ok(None)
    }

    fn transport_error(&self, url: &Url, e: reqwest::Error) -> ProbeError {
        let shown = self.shown(url);
        let host = url.host_str().unwrap_or_default().to_string();
        if e.is_timeout() {
            ProbeError::new(
                ProbeErrorKind::Timeout,
                format!("{host}: no answer to {shown} in time"),
            )
            .with_hint("GitHub may be slow or unreachable; raise --timeout")
        } else if e.is_connect() {
            ProbeError::new(
                ProbeErrorKind::Unreachable,
                format!("cannot connect to {host}: {}", root_cause(&e)),
            )
            .with_hint("check the network, a proxy, or [github] api_url")
        } else {
            ProbeError::new(
                ProbeErrorKind::Protocol,
                format!("{host}: {shown}: {}", root_cause(&e)),
            )
        }
    }

    fn record(&self, url: &Url, status: u16, headers: &BTreeMap<String, String>, body: &Value) {
        let mut body = body.clone();
        redact_body(&mut body);
        self.calls.lock().expect("calls").push(json!({
            "request": format!("GET {}", self.shown(url)),
            "status": status,
            "headers": headers,
            "body": body,
        }));
    }

    /// The API root (evidence) and every call made, into the observation.
    pub fn into_evidence(self, obs: &mut Observation) {
        obs.evidence("api_url", self.base.as_str().trim_end_matches('/'));
        let calls = self.calls.into_inner().expect("calls");
        obs.evidence("api_calls", Value::Array(calls));
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The `rel="next"` URL of a `Link` header (RFC 8288).
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let url = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        (is_next && url.starts_with('<') && url.ends_with('>'))
            .then(|| url[1..url.len() - 1].to_string())
    })
}

/// Removes secret values from a response body: a secret scanning alert's `secret` (asked for
/// with `hide_secret=true`, removed again in case a server sends it anyway), and any token-like
/// field.
pub fn redact_body(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                let k = k.to_ascii_lowercase();
                if (k == "secret" || k == "token" || k.ends_with("_token") || k == "password")
                    && !val.is_null()
                {
                    *val = Value::String("[redacted]".into());
                } else {
                    redact_body(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_body),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let l = r#"<https://api.github.com/orgs/o/repos?page=1>; rel="prev", <https://api.github.com/orgs/o/repos?page=3>; rel="next", <https://api.github.com/orgs/o/repos?page=5>; rel="last""#;
        assert_eq!(
            next_link(l).as_deref(),
            Some("https://api.github.com/orgs/o/repos?page=3")
        );
        assert_eq!(
            next_link(r#"<https://x/?page=1>; rel="first", <https://x/?page=2>; rel="prev""#),
            None
        );
    }

    #[test]
    fn secrets_in_bodies_are_redacted() {
        let mut v =
            json!([{"secret": "ghp_abc", "secret_type": "github_pat", "nested": {"token": "t"}}]);
        redact_body(&mut v);
        assert_eq!(v[0]["secret"], "[redacted]");
        assert_eq!(v[0]["secret_type"], "github_pat");
        assert_eq!(v[0]["nested"]["token"], "[redacted]");
    }
}
