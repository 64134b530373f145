//! The two readings of `Strict-Transport-Security`, and the hstspreload.org requirements.
//!
//! A browser (RFC 6797 §6.1 as Chromium and Firefox parse it) is lenient where the grammar allows
//! it: directive names are case-insensitive, values may be quoted, unknown directives are ignored,
//! empty directives and trailing `;` are tolerated. It is strict where the RFC says a UA MUST
//! ignore the header: `max-age` missing or not a whole number, `max-age` or `includeSubDomains`
//! repeated, `includeSubDomains` with a value, anything outside the token/quoted-string grammar.
//! Only the first header of a response counts.
//!
//! hstspreload.org judges more strictly, and reports each unmet requirement with a stable issue
//! code (the codes of the open-source chromium/hstspreload checker, so a user can match what vouch
//! says with what the site says): a single header, an unquoted digit-only `max-age` of at least one
//! year, `includeSubDomains`, `preload`; on `http://domain` a first redirect to `https://domain`
//! that itself serves a preloadable header; at most 3 redirects, every one on HTTPS; a registrable
//! domain; `www` reachable over valid TLS when it exists. This module holds the pure rules over
//! recorded responses; the requests themselves are made in `fetch`.

use reqwest::Url;
use serde::Serialize;

/// What Chromium stores at most (`kMaxHSTSAgeSecs`, 365 days); an overflowing value clips to it.
pub const BROWSER_MAX_AGE_CAP: u64 = 86_400 * 365;
/// One year: hstspreload.org's minimum `max-age` for preloading.
pub const PRELOAD_MIN_MAX_AGE: u64 = 31_536_000;
/// Longer than this is allowed but unusual (a warning on hstspreload.org).
const TEN_YEARS: u64 = 86_400 * 365 * 10;
/// hstspreload.org's redirect limit from `http://domain` and `https://domain`.
pub const PRELOAD_MAX_REDIRECTS: usize = 3;

// ---------------------------------------------------------------------------------------------
// The browser's reading
// ---------------------------------------------------------------------------------------------

/// The policy a browser takes from a response: what it would store, or why it ignores the header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BrowserReading {
    /// At least one `Strict-Transport-Security` header was served.
    pub present: bool,
    /// A browser honours the (first) header.
    pub valid: bool,
    /// The stated `max-age` (Chromium caps the stored value at one year); `None` when not valid.
    pub max_age: Option<u64>,
    pub include_subdomains: bool,
    pub preload: bool,
    /// Why the header is ignored; empty when valid.
    pub errors: Vec<String>,
    /// The first header as served.
    pub raw: Option<String>,
}

/// Reads the `Strict-Transport-Security` values of one response (in order) as a browser does.
pub fn browser_reading(values: &[String]) -> BrowserReading {
    let Some(first) = values.first() else {
        return BrowserReading {
            errors: vec!["no Strict-Transport-Security header".into()],
            ..BrowserReading::default()
        };
    };
    let mut reading = parse_browser(first);
    reading.present = true;
    reading.raw = Some(first.clone());
    reading
}

/// A browser ignores the header of a response whose certificate it rejects (RFC 6797 §8.1).
pub fn ignored_for_certificate(reading: BrowserReading, why: &str) -> BrowserReading {
    BrowserReading {
        valid: false,
        max_age: None,
        include_subdomains: false,
        preload: false,
        errors: vec![format!(
            "the certificate is not valid ({why}): browsers ignore Strict-Transport-Security on such a connection"
        )],
        ..reading
    }
}

/// One `name[=value]` directive as split by the browser's grammar.
#[derive(Debug, PartialEq, Eq)]
struct Directive {
    name: String,
    /// The value with quotes removed and escapes undone; `None` when there is no `=`.
    value: Option<String>,
    quoted: bool,
}

/// RFC 9110 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// Optional whitespace, as HTTP defines it (space and horizontal tab only).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Splits a header value into directives at `;` outside quoted strings. Empty directives (`;;`,
/// a trailing `;`) are dropped, as browsers do. `Err` names the first grammar violation.
fn split_directives(value: &str) -> Result<Vec<Directive>, String> {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == ';' {
            segments.push(&value[start..i]);
            start = i + 1;
        }
    }
    if in_quotes {
        return Err("a quoted string is not closed".into());
    }
    segments.push(&value[start..]);

    let mut out = Vec::new();
    for seg in segments {
        let seg = trim_ows(seg);
        if seg.is_empty() {
            continue;
        }
        let (name, raw_value) = match seg.split_once('=') {
            Some((n, v)) => (trim_ows(n), Some(trim_ows(v))),
            None => (seg, None),
        };
        if name.is_empty() {
            return Err(format!("directive `{seg}` has no name"));
        }
        let (value, quoted) = match raw_value {
            None => (None, false),
            Some(v) if v.starts_with('"') => (Some(unquote(v)?), true),
            Some(v) => {
                if v.contains('"') {
                    return Err(format!("stray quote in directive `{seg}`"));
                }
                (Some(v.to_string()), false)
            }
        };
        out.push(Directive {
            name: name.to_string(),
            value,
            quoted,
        });
    }
    Ok(out)
}

/// Undoes a quoted-string (`"…"` with `\` escapes); the closing quote must end the value.
fn unquote(v: &str) -> Result<String, String> {
    let inner = &v[1..];
    let mut out = String::new();
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => out.push(e),
                None => return Err(format!("quoted value {v} ends in an escape")),
            },
            '"' => {
                if i + 1 != inner.len() {
                    return Err(format!("text after the quoted value {v}"));
                }
                return Ok(out);
            }
            c => out.push(c),
        }
    }
    Err(format!("quoted value {v} is not closed"))
}

/// Parses one header value as Chromium and Firefox do, collecting every reason to ignore it.
fn parse_browser(value: &str) -> BrowserReading {
    let mut errors = Vec::new();
    let mut max_age: Option<u64> = None;
    let mut max_age_seen = false;
    let mut include_subdomains = false;
    let mut preload = false;

    let directives = match split_directives(value) {
        Ok(d) => d,
        Err(e) => {
            return BrowserReading {
                errors: vec![format!("not valid header syntax: {e}")],
                ..BrowserReading::default()
            };
        }
    };
    for d in directives {
        if d.name.eq_ignore_ascii_case("max-age") {
            if max_age_seen {
                errors.push("max-age appears more than once".into());
                continue;
            }
            max_age_seen = true;
            match d.value.as_deref() {
                None | Some("") => errors.push("max-age has no value".into()),
                Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => {
                    // Browsers clip huge values instead of rejecting them; a value too large
                    // to state as an integer fact is reported as Chromium stores it (its
                    // one-year cap, kMaxHSTSAgeSecs).
                    max_age = Some(
                        v.parse::<u64>()
                            .ok()
                            .filter(|v| i64::try_from(*v).is_ok())
                            .unwrap_or(BROWSER_MAX_AGE_CAP),
                    );
                }
                Some(v) => errors.push(format!(
                    "max-age value `{v}` is not a whole number of seconds"
                )),
            }
        } else if d.name.eq_ignore_ascii_case("includeSubDomains") {
            if include_subdomains {
                errors.push("includeSubDomains appears more than once".into());
                continue;
            }
            if d.value.as_deref().is_some_and(|v| !v.is_empty()) || d.quoted {
                errors.push("includeSubDomains must not have a value".into());
                continue;
            }
            include_subdomains = true;
        } else {
            // Unknown directives (`preload` among them: browsers do not act on it) are ignored,
            // provided they keep to the grammar.
            if !is_token(&d.name) {
                errors.push(format!("directive name `{}` is not a token", d.name));
                continue;
            }
            if let Some(v) = &d.value {
                if !d.quoted && !v.is_empty() && !is_token(v) {
                    errors.push(format!("value `{v}` of `{}` is not a token", d.name));
                    continue;
                }
            }
            if d.name.eq_ignore_ascii_case("preload") && d.value.is_none() {
                preload = true;
            }
        }
    }
    if !max_age_seen {
        errors.push("max-age is missing".into());
    }
    if !errors.is_empty() {
        return BrowserReading {
            errors,
            ..BrowserReading::default()
        };
    }
    BrowserReading {
        present: true,
        valid: true,
        max_age,
        include_subdomains,
        preload,
        errors,
        raw: None,
    }
}

// ---------------------------------------------------------------------------------------------
// hstspreload.org's reading
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Prevents preloading.
    Error,
    /// Worth fixing, does not prevent preloading.
    Warning,
}

/// One finding, with the code hstspreload.org uses for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub message: String,
}

/// Findings in the order they were made (the order hstspreload.org reports them in).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    fn error(&mut self, code: &'static str, summary: &'static str, message: impl Into<String>) {
        self.0.push(Issue {
            code,
            severity: Severity::Error,
            summary,
            message: message.into(),
        });
    }

    fn warning(&mut self, code: &'static str, summary: &'static str, message: impl Into<String>) {
        self.0.push(Issue {
            code,
            severity: Severity::Warning,
            summary,
            message: message.into(),
        });
    }

    /// A warning reported once however often its cause occurs.
    fn unique_warning(&mut self, code: &'static str, summary: &'static str, message: &str) {
        if !self.0.iter().any(|i| i.code == code) {
            self.warning(code, summary, message);
        }
    }

    pub fn extend(&mut self, other: Issues) {
        self.0.extend(other.0);
    }

    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.0.iter().filter(|i| i.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.0.iter().filter(|i| i.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The codes of the errors: one per unmet requirement.
    pub fn error_codes(&self) -> Vec<String> {
        self.errors().map(|i| i.code.to_string()).collect()
    }
}

/// The header as hstspreload.org parses it (no quoted values, names case-insensitive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreloadHeader {
    pub max_age: Option<u64>,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// Parses a header as hstspreload.org does: syntax errors and warnings, no requirements yet.
pub fn preload_parse(value: &str) -> (PreloadHeader, Issues) {
    let mut h = PreloadHeader::default();
    let mut issues = Issues::default();
    // hstspreload trims Unicode whitespace, not only HTTP's OWS.
    let directives: Vec<&str> = value.split(';').map(str::trim).collect();
    if directives.len() == 1 && directives[0].is_empty() {
        issues.warning(
            "header.parse.empty",
            "Empty Header",
            "The HSTS header is empty.",
        );
        return (h, issues);
    }
    for d in directives {
        let lower = d.to_ascii_lowercase();
        if lower == "preload" {
            if h.preload {
                issues.unique_warning(
                    "header.parse.repeated.preload",
                    "Repeated preload directive",
                    "Header contains a repeated directive: `preload`",
                );
            }
            h.preload = true;
        } else if lower.starts_with("preload") {
            issues.unique_warning(
                "header.parse.invalid.preload",
                "Invalid preload directive",
                "Header contains a `preload` directive with extra parts.",
            );
        } else if lower == "includesubdomains" {
            if h.include_subdomains {
                issues.unique_warning(
                    "header.parse.repeated.include_sub_domains",
                    "Repeated includeSubDomains directive",
                    "Header contains a repeated directive: `includeSubDomains`",
                );
            } else {
                // Any capitalisation (hstspreload.org no longer warns about it).
                h.include_subdomains = true;
            }
        } else if lower.starts_with("includesubdomains") {
            issues.unique_warning(
                "header.parse.invalid.include_sub_domains",
                "Invalid includeSubDomains directive",
                "The header contains an `includeSubDomains` directive with extra directives.",
            );
        } else if lower.starts_with("max-age=") {
            let digits = &d["max-age=".len()..];
            match preload_max_age(d, digits, &mut issues) {
                None => {}
                Some(_) if h.max_age.is_some() => issues.unique_warning(
                    "header.parse.repeated.max_age",
                    "Repeated max-age directive",
                    "The header contains a repeated directive: `max-age`",
                ),
                Some(v) => h.max_age = Some(v),
            }
        } else if lower.starts_with("max-age") {
            if !issues
                .0
                .iter()
                .any(|i| i.code == "header.parse.invalid.max_age.no_value")
            {
                issues.error(
                    "header.parse.invalid.max_age.no_value",
                    "Max-age directive without a value",
                    "The header contains a max-age directive name without an associated value. Please specify the max-age in seconds.",
                );
            }
        } else if d.is_empty() {
            issues.unique_warning(
                "header.parse.empty_directive",
                "Empty directive or extra semicolon",
                "The header includes an empty directive or extra semicolon.",
            );
        } else {
            issues.warning(
                "header.parse.unknown_directive",
                "Unknown directive",
                format!("The header contains an unknown directive: `{d}`"),
            );
        }
    }
    (h, issues)
}

/// A `max-age` value as hstspreload.org reads it: digits only, so a quoted value is an error.
fn preload_max_age(directive: &str, digits: &str, issues: &mut Issues) -> Option<u64> {
    if digits.len() > 1 && digits.starts_with('0') {
        issues.warning(
            "header.parse.max_age.leading_zero",
            "Unexpected max-age syntax",
            format!("The header's max-age value contains a leading 0: `{directive}`"),
        );
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        issues.error(
            "header.parse.max_age.non_digit_characters",
            "Invalid max-age syntax",
            format!(
                "The header's max-age value contains characters that are not digits: `{directive}`"
            ),
        );
        return None;
    }
    match digits.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            issues.error(
                "header.parse.max_age.parse_int_error",
                "Invalid max-age syntax",
                format!("We could not parse the header's max-age value `{digits}`."),
            );
            None
        }
    }
}

/// The header requirements for preloading, after parsing.
pub fn preloadable_header(value: &str) -> Issues {
    let (h, mut issues) = preload_parse(value);
    if !h.include_subdomains {
        issues.error(
            "header.preloadable.include_sub_domains.missing",
            "No includeSubDomains directive",
            "The header must contain the `includeSubDomains` directive.",
        );
    }
    if !h.preload {
        issues.error(
            "header.preloadable.preload.missing",
            "No preload directive",
            "The header must contain the `preload` directive.",
        );
    }
    match h.max_age {
        None => issues.error(
            "header.preloadable.max_age.missing",
            "No max-age directive",
            "Header requirement error: Header must contain a valid `max-age` directive.",
        ),
        Some(0) => issues.error(
            "header.preloadable.max_age.zero",
            "Max-age is 0",
            format!(
                "The max-age must be at least {PRELOAD_MIN_MAX_AGE} seconds (≈ 1 year), but the header currently only has max-age=0."
            ),
        ),
        Some(v) if v < PRELOAD_MIN_MAX_AGE => issues.error(
            "header.preloadable.max_age.below_1_year",
            "Max-age too low",
            format!(
                "The max-age must be at least {PRELOAD_MIN_MAX_AGE} seconds (≈ 1 year), but the header currently only has max-age={v}."
            ),
        ),
        Some(v) if v > TEN_YEARS => issues.warning(
            "header.preloadable.max_age.over_10_years",
            "Max-age > 10 years",
            format!(
                "FYI: The max-age ({v} seconds) is longer than 10 years, which is an unusually long value."
            ),
        ),
        Some(_) => {}
    }
    issues
}

/// The HTTPS response was only readable with certificate checks off.
pub fn invalid_certificate_issues(url: &Url, why: &str) -> Issues {
    let mut issues = Issues::default();
    issues.error(
        "domain.tls.invalid_cert_chain",
        "Invalid Certificate Chain",
        format!("{url} uses an incomplete or invalid certificate chain ({why})."),
    );
    issues
}

/// Not even a TLS session with the certificate unchecked: hstspreload.org's last resort.
pub fn cannot_connect_issues(url: &Url, why: &str) -> Issues {
    let mut issues = Issues::default();
    issues.error(
        "domain.tls.cannot_connect",
        "Cannot connect using TLS",
        format!("We cannot connect to {url} using TLS ({why})."),
    );
    issues
}

/// The response requirement: exactly one header, and that header preloadable.
pub fn preloadable_response(values: &[String]) -> Issues {
    let mut issues = Issues::default();
    match values {
        [] => issues.error(
            "response.no_header",
            "No HSTS header",
            "Response error: No HSTS header is present on the response.",
        ),
        [one] => issues.extend(preloadable_header(one)),
        many => issues.error(
            "response.multiple_headers",
            "Multiple HSTS headers",
            format!(
                "Response error: Multiple HSTS headers (number of HSTS headers: {}).",
                many.len()
            ),
        ),
    }
    issues
}

// ---------------------------------------------------------------------------------------------
// Redirects and the domain
// ---------------------------------------------------------------------------------------------

/// One request of a redirect chain as recorded (the part the rules need).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub url: Url,
    /// The `Strict-Transport-Security` values of the response.
    pub sts: Vec<String>,
    /// Where it redirects to (resolved against `url`), when it is a redirect.
    pub location: Option<Url>,
}

/// How following a chain ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// A response that is not a redirect.
    Final,
    /// Stopped at vouch's hop cap.
    TooManyRedirects,
    /// A request failed (connect, TLS, timeout); the message says which and where.
    Failed(String),
}

/// A followed chain: the responses received, in order, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub steps: Vec<Step>,
    pub end: ChainEnd,
}

impl Chain {
    /// The redirect targets, in order (hstspreload's "chain": the initial URL excluded).
    pub fn targets(&self) -> Vec<&Url> {
        self.steps
            .iter()
            .filter_map(|s| s.location.as_ref())
            .collect()
    }
}

/// Redirect-count and redirect-security issues of a chain starting at `initial`.
fn redirect_chain_issues(initial: &Url, chain: &Chain) -> Issues {
    let mut issues = Issues::default();
    let targets = chain.targets();
    if targets.len() > PRELOAD_MAX_REDIRECTS || chain.end == ChainEnd::TooManyRedirects {
        issues.error(
            "redirects.too_many",
            "Too many redirects",
            format!(
                "There are more than {PRELOAD_MAX_REDIRECTS} redirects starting from `{initial}`."
            ),
        );
    } else if let ChainEnd::Failed(e) = &chain.end {
        if !chain.steps.is_empty() {
            issues.error(
                "redirects.follow_error",
                "Error following redirects",
                format!("Redirect error: {e}"),
            );
        }
    }
    // hstspreload's client stops after its limit, so it only ever sees that many targets + 1.
    for (i, u) in targets.iter().take(PRELOAD_MAX_REDIRECTS + 1).enumerate() {
        if u.scheme() != "https" {
            if i == 0 {
                issues.error(
                    "redirects.insecure.initial",
                    "Insecure redirect",
                    format!("`{initial}` redirects to an insecure page: `{u}`"),
                );
            } else {
                issues.error(
                    "redirects.insecure.subsequent",
                    "Insecure redirect",
                    format!(
                        "`{initial}` redirects to an insecure page on redirect #{}: `{u}`",
                        i + 1
                    ),
                );
            }
            break;
        }
    }
    issues
}

/// The checks on the chain from `https://domain` (or an `https://` URL).
pub fn https_redirect_issues(initial: &Url, chain: &Chain) -> Issues {
    redirect_chain_issues(initial, chain)
}

/// The checks on the chain from `http://domain` (or an `http://` URL): `general` always counts;
/// `first_redirect_hsts` is redundant when the HTTPS response itself has header errors, and the
/// caller decides whether to report it (hstspreload.org does not, then).
pub fn http_redirect_issues(initial: &Url, chain: &Chain) -> (Issues, Issues) {
    let mut general = Issues::default();
    let mut first_hsts = Issues::default();
    let host = initial.host_str().unwrap_or_default();
    let https_host = format!("https://{host}");

    let Some(first) = chain.steps.first() else {
        let why = match &chain.end {
            ChainEnd::Failed(e) => e.clone(),
            _ => "no response".into(),
        };
        general.warning(
            "redirects.http.does_not_exist",
            "Unavailable over HTTP",
            format!(
                "The site appears to be unavailable over plain HTTP ({initial}): {why}. This can prevent users without a freshly updated modern browser from connecting to the site when they visit a URL with the http:// scheme (or with an unspecified scheme). However, this is okay if the site does not wish to support those users."
            ),
        );
        return (general, first_hsts);
    };
    if !first.sts.is_empty() {
        general.warning(
            "redirects.http.useless_header",
            "Unnecessary HSTS header over HTTP",
            format!(
                "The HTTP page at {initial} sends an HSTS header. This has no effect over HTTP, and should be removed."
            ),
        );
    }
    // The count and follow errors always count; the scheme checks only once the first redirect
    // is known to be the right one (otherwise the first-redirect issue says it all).
    let (insecure, rest): (Vec<Issue>, Vec<Issue>) = redirect_chain_issues(initial, chain)
        .0
        .into_iter()
        .partition(|x| x.code.starts_with("redirects.insecure"));
    general.extend(Issues(rest));
    let targets = chain.targets();
    let Some(target) = targets.first() else {
        general.error(
            "redirects.http.no_redirect",
            "No redirect from HTTP",
            format!("`{initial}` does not redirect to `{https_host}`."),
        );
        return (general, first_hsts);
    };
    let target_host = target.host_str().unwrap_or_default();
    if target.scheme() == "https" && target_host.eq_ignore_ascii_case(host) {
        // The response of the first redirect's target is the chain's second step.
        match chain.steps.get(1) {
            Some(step) => {
                let hsts = preloadable_response(&step.sts);
                if let Some(first_error) = hsts.errors().next() {
                    first_hsts.error(
                        "redirects.http.first_redirect.no_hsts",
                        "HTTP redirects to a page without HSTS",
                        format!(
                            "`{initial}` redirects to `{target}`, which does not serve a HSTS header that satisfies preload conditions. First error: {}",
                            first_error.summary
                        ),
                    );
                }
            }
            None => {
                let why = match &chain.end {
                    ChainEnd::Failed(e) => e.clone(),
                    _ => "no response".into(),
                };
                first_hsts.error(
                    "redirects.http.first_redirect.invalid",
                    "Invalid redirect",
                    format!(
                        "`{initial}` redirects to `{target}`, which we could not connect to: {why}"
                    ),
                );
                return (general, first_hsts);
            }
        }
        general.extend(Issues(insecure));
        return (general, first_hsts);
    }
    if target_host.eq_ignore_ascii_case(&format!("www.{host}")) {
        general.error(
            "redirects.http.www_first",
            "HTTP redirects to www first",
            format!(
                "`{initial}` (HTTP) should immediately redirect to `{https_host}` (HTTPS) before adding the www subdomain. Right now, the first redirect is to `{target}`. The extra redirect is required to ensure that any browser which supports HSTS will record the HSTS entry for the top level domain, not just the subdomain."
            ),
        );
        return (general, first_hsts);
    }
    general.error(
        "redirects.http.first_redirect.insecure",
        "HTTP does not redirect to HTTPS",
        format!(
            "`{initial}` (HTTP) redirects to `{target}`. The first redirect from `{initial}` should be to a secure page on the same host (`{https_host}`)."
        ),
    );
    (general, first_hsts)
}

/// Whether the first redirect of a plain-HTTP chain goes to `https://` on the same host.
pub fn http_to_https(initial: &Url, chain: &Chain) -> Option<bool> {
    let first = chain.steps.first()?;
    Some(first.location.as_ref().is_some_and(|t| {
        t.scheme() == "https"
            && t.host_str()
                .zip(initial.host_str())
                .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
    }))
}

/// The domain-name checks, as hstspreload.org makes them and in its order: format (a format error
/// ends the checks: nothing else is reported), then that it is a registrable domain (Public
/// Suffix List).
pub fn domain_issues(domain: &str) -> Issues {
    let mut issues = Issues::default();
    let invalid = "Invalid domain name";
    if domain.starts_with('.') {
        issues.error(
            "domain.format.begins_with_dot",
            invalid,
            "Please provide a domain that does not begin with `.`",
        );
        return issues;
    }
    if domain.ends_with('.') {
        issues.error(
            "domain.format.ends_with_dot",
            invalid,
            "Please provide a domain that does not end with `.`",
        );
        return issues;
    }
    if domain.contains("..") {
        issues.error(
            "domain.format.contains_double_dot",
            invalid,
            "Please provide a domain that does not contain `..`",
        );
        return issues;
    }
    // The name is its own public suffix ("com", "co.uk", "github.io", an unlisted single label
    // such as "localhost"): a TLD owner's matter, not a site's.
    let lower = domain.to_ascii_lowercase();
    if psl::suffix_str(&lower).is_none_or(|ps| ps == lower) {
        issues.error(
            "domain.format.public_suffix",
            "Domain is a TLD or public suffix",
            "You have entered a public suffix (ccTLD, gTLD, or other domain listed at https://publicsuffix.org/), which cannot be submitted through this website. If you intended to query for a normal website, make sure to enter all of its labels (e.g. `example.com` rather than `example` or `com`). If you operate a TLD or public suffix and are interested in preloading HSTS for it, please see https://hstspreload.org/#tld",
        );
        return issues;
    }
    if !lower
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        issues.error(
            "domain.format.invalid_characters",
            invalid,
            "Please provide a domain using valid characters (letters, numbers, dashes, dots).",
        );
        return issues;
    }
    if lower.parse::<std::net::IpAddr>().is_ok() {
        issues.error(
            "domain.format.is_ip_address",
            invalid,
            "Please provide a domain, not an IP address",
        );
        return issues;
    }
    issues.extend(domain_level_issues(&lower));
    issues
}

/// Whether the name is a whole registrable domain (eTLD+1), the only kind accepted.
pub fn domain_level_issues(domain: &str) -> Issues {
    let mut issues = Issues::default();
    match psl::domain_str(domain) {
        None => issues.error(
            "internal.domain.name.cannot_compute_etld1",
            "Internal Error",
            "Could not compute eTLD+1.",
        ),
        Some(registrable) if registrable != domain => issues.error(
            "domain.is_subdomain",
            "Subdomain",
            format!(
                "`{domain}` is a subdomain. Please preload `{registrable}` instead. (Due to the size of the preload list and the behaviour of cookies across subdomains, we only accept automated preload list submissions of whole registered domains.)"
            ),
        ),
        Some(_) => {}
    }
    issues
}

/// The `www` check: when `www.domain` accepts connections on 443, it must speak valid TLS.
pub fn www_issues(domain: &str, www: &WwwResult) -> Issues {
    let mut issues = Issues::default();
    if let WwwResult::NoTls(e) = www {
        issues.error(
            "domain.www.no_tls",
            "www subdomain does not support HTTPS",
            format!(
                "Domain error: The www subdomain exists, but we couldn't connect to it using HTTPS ({e}). Since many people type this by habit, HSTS preloading would likely cause issues for your site. (www.{domain})"
            ),
        );
    }
    issues
}

/// What the `www` check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum WwwResult {
    /// Nothing listens on `www.domain:443` (or the name does not resolve).
    Absent(String),
    /// It connects and a valid TLS handshake and response followed.
    Ok,
    /// It connects, but HTTPS fails.
    NoTls(String),
    /// Not checked (the domain is not registrable, or the target is a URL).
    Skipped,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Vec<String> {
        vec![v.to_string()]
    }

    /// (header, valid, max_age, includeSubDomains, preload, an expected error fragment)
    type BrowserVector = (&'static str, bool, Option<u64>, bool, bool, &'static str);
    const BROWSER: &[BrowserVector] = &[
        ("max-age=31536000", true, Some(31536000), false, false, ""),
        (
            "max-age=31536000; includeSubDomains; preload",
            true,
            Some(31536000),
            true,
            true,
            "",
        ),
        (
            "MAX-AGE=300; INCLUDESUBDOMAINS",
            true,
            Some(300),
            true,
            false,
            "",
        ),
        (
            "max-age=\"31536000\"",
            true,
            Some(31536000),
            false,
            false,
            "",
        ),
        (
            "max-age=\"31536000\"; includeSubDomains; preload",
            true,
            Some(31536000),
            true,
            true,
            "",
        ),
        (
            "  max-age=10 ;  includeSubDomains ; ",
            true,
            Some(10),
            true,
            false,
            "",
        ),
        ("max-age=10;;", true, Some(10), false, false, ""),
        ("max-age = 10", true, Some(10), false, false, ""),
        ("\tmax-age=10\t", true, Some(10), false, false, ""),
        ("max-age=0", true, Some(0), false, false, ""),
        (
            "max-age=10; foo=bar; baz; qux=\"a;b\"",
            true,
            Some(10),
            false,
            false,
            "",
        ),
        (
            "max-age=99999999999999999999999",
            true,
            Some(BROWSER_MAX_AGE_CAP),
            false,
            false,
            "",
        ),
        (
            "max-age=9223372036854775808",
            true,
            Some(BROWSER_MAX_AGE_CAP),
            false,
            false,
            "",
        ),
        (
            "max-age=9223372036854775807",
            true,
            Some(9223372036854775807),
            false,
            false,
            "",
        ),
        (
            "preload; max-age=5; preload",
            true,
            Some(5),
            false,
            true,
            "",
        ),
        (
            "includeSubDomains",
            false,
            None,
            false,
            false,
            "max-age is missing",
        ),
        ("", false, None, false, false, "max-age is missing"),
        (
            "max-age=1; max-age=2",
            false,
            None,
            false,
            false,
            "more than once",
        ),
        (
            "max-age=1; MAX-AGE=1",
            false,
            None,
            false,
            false,
            "more than once",
        ),
        (
            "max-age=1; includeSubDomains; includesubdomains",
            false,
            None,
            false,
            false,
            "includeSubDomains appears more than once",
        ),
        (
            "max-age=1; includeSubDomains=yes",
            false,
            None,
            false,
            false,
            "must not have a value",
        ),
        (
            "max-age=1; includeSubDomains=\"\"",
            false,
            None,
            false,
            false,
            "must not have a value",
        ),
        ("max-age", false, None, false, false, "no value"),
        ("max-age=", false, None, false, false, "no value"),
        (
            "max-age=-1",
            false,
            None,
            false,
            false,
            "not a whole number",
        ),
        (
            "max-age=+5",
            false,
            None,
            false,
            false,
            "not a whole number",
        ),
        (
            "max-age=1.5",
            false,
            None,
            false,
            false,
            "not a whole number",
        ),
        (
            "max-age=10s",
            false,
            None,
            false,
            false,
            "not a whole number",
        ),
        ("max-age=\"10", false, None, false, false, "not closed"),
        ("max-age=\"10\"x", false, None, false, false, "text after"),
        ("max-age=1\"0\"", false, None, false, false, "stray quote"),
        ("max-age=10; =x", false, None, false, false, "has no name"),
        ("max-age=10; f@o", false, None, false, false, "not a token"),
        (
            "max-age=10; foo=b@r",
            false,
            None,
            false,
            false,
            "not a token",
        ),
        (
            "max-age=10, includeSubDomains",
            false,
            None,
            false,
            false,
            "not a whole number",
        ),
    ];

    #[test]
    fn browser_reading_vectors() {
        for (header, valid, max_age, isd, preload, err) in BROWSER {
            let r = browser_reading(&s(header));
            assert!(r.present, "{header}");
            assert_eq!(r.valid, *valid, "valid of {header:?}: {r:?}");
            assert_eq!(r.max_age, *max_age, "max_age of {header:?}");
            assert_eq!(
                r.include_subdomains, *isd,
                "includeSubDomains of {header:?}"
            );
            assert_eq!(r.preload, *preload, "preload of {header:?}");
            assert_eq!(r.raw.as_deref(), Some(*header));
            if err.is_empty() {
                assert!(r.errors.is_empty(), "{header:?}: {:?}", r.errors);
            } else {
                assert!(
                    r.errors.iter().any(|e| e.contains(err)),
                    "{header:?}: expected an error with {err:?}, got {:?}",
                    r.errors
                );
            }
        }
    }

    #[test]
    fn browser_reads_only_the_first_header() {
        let r = browser_reading(&["max-age=300".into(), "max-age=31536000; preload".into()]);
        assert!(r.valid);
        assert_eq!(r.max_age, Some(300));
        assert!(!r.preload);
        let r = browser_reading(&["max-age=x".into(), "max-age=31536000".into()]);
        assert!(!r.valid);
    }

    #[test]
    fn a_rejected_certificate_voids_the_policy_but_keeps_what_was_served() {
        let r = ignored_for_certificate(browser_reading(&s(GOOD)), "expired");
        assert!(r.present && !r.valid && !r.preload && !r.include_subdomains);
        assert_eq!(r.max_age, None);
        assert_eq!(r.raw.as_deref(), Some(GOOD));
        assert!(r.errors[0].contains("expired"), "{:?}", r.errors);
        let url = u("https://example.com/");
        assert_eq!(
            invalid_certificate_issues(&url, "expired").error_codes(),
            ["domain.tls.invalid_cert_chain"]
        );
    }

    #[test]
    fn browser_reading_without_header() {
        let r = browser_reading(&[]);
        assert!(!r.present && !r.valid);
        assert_eq!(r.max_age, None);
        assert_eq!(r.raw, None);
        assert_eq!(r.errors, vec!["no Strict-Transport-Security header"]);
    }

    /// (header, expected error codes, expected warning codes)
    const PRELOAD: &[(&str, &[&str], &[&str])] = &[
        ("max-age=31536000; includeSubDomains; preload", &[], &[]),
        ("max-age=63072000; includeSubDomains; preload", &[], &[]),
        ("preload; includeSubDomains; max-age=31536000", &[], &[]),
        (
            "max-age=31536000; includeSubDomains",
            &["header.preloadable.preload.missing"],
            &[],
        ),
        (
            "max-age=31536000; preload",
            &["header.preloadable.include_sub_domains.missing"],
            &[],
        ),
        (
            "max-age=300",
            &[
                "header.preloadable.include_sub_domains.missing",
                "header.preloadable.preload.missing",
                "header.preloadable.max_age.below_1_year",
            ],
            &[],
        ),
        (
            "max-age=31535999; includeSubDomains; preload",
            &["header.preloadable.max_age.below_1_year"],
            &[],
        ),
        (
            "max-age=0; includeSubDomains; preload",
            &["header.preloadable.max_age.zero"],
            &[],
        ),
        (
            "max-age=\"31536000\"; includeSubDomains; preload",
            &[
                "header.parse.max_age.non_digit_characters",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "max-age=abc; includeSubDomains; preload",
            &[
                "header.parse.max_age.non_digit_characters",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "max-age=99999999999999999999999; includeSubDomains; preload",
            &[
                "header.parse.max_age.parse_int_error",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "max-age; includeSubDomains; preload",
            &[
                "header.parse.invalid.max_age.no_value",
                "header.preloadable.max_age.missing",
            ],
            &[],
        ),
        (
            "max-age=031536000; includeSubDomains; preload",
            &[],
            &["header.parse.max_age.leading_zero"],
        ),
        (
            "max-age=31536000; includeSubDomains; preload; preload",
            &[],
            &["header.parse.repeated.preload"],
        ),
        (
            "max-age=31536000; includeSubDomains; preload; max-age=31536000",
            &[],
            &["header.parse.repeated.max_age"],
        ),
        (
            "max-age=31536000; includeSubDomains; includeSubDomains; preload",
            &[],
            &["header.parse.repeated.include_sub_domains"],
        ),
        ("max-age=31536000; includesubdomains; preload", &[], &[]),
        (
            "max-age=31536000; includeSubDomains=1; preload",
            &["header.preloadable.include_sub_domains.missing"],
            &["header.parse.invalid.include_sub_domains"],
        ),
        (
            "max-age=31536000; includeSubDomains; preload=yes",
            &["header.preloadable.preload.missing"],
            &["header.parse.invalid.preload"],
        ),
        (
            "max-age=31536000; includeSubDomains; preload;",
            &[],
            &["header.parse.empty_directive"],
        ),
        (
            "max-age=31536000; includeSubDomains; preload; foo",
            &[],
            &["header.parse.unknown_directive"],
        ),
        (
            "max-age=315360001; includeSubDomains; preload",
            &[],
            &["header.preloadable.max_age.over_10_years"],
        ),
        (
            "",
            &[
                "header.preloadable.include_sub_domains.missing",
                "header.preloadable.preload.missing",
                "header.preloadable.max_age.missing",
            ],
            &["header.parse.empty"],
        ),
    ];

    #[test]
    fn preload_header_vectors() {
        for (header, errors, warnings) in PRELOAD {
            let issues = preloadable_header(header);
            let got_e: Vec<&str> = issues.errors().map(|i| i.code).collect();
            let got_w: Vec<&str> = issues.warnings().map(|i| i.code).collect();
            assert_eq!(&got_e, errors, "errors of {header:?}");
            assert_eq!(&got_w, warnings, "warnings of {header:?}");
        }
    }

    #[test]
    fn below_one_year_message_names_the_value() {
        let issues = preloadable_header("includeSubDomains; max-age=100; preload");
        let i = issues.errors().next().unwrap();
        assert_eq!(i.code, "header.preloadable.max_age.below_1_year");
        assert!(i.message.contains("max-age=100."), "{}", i.message);
    }

    #[test]
    fn response_needs_exactly_one_header() {
        assert_eq!(
            preloadable_response(&[]).error_codes(),
            ["response.no_header"]
        );
        let two = [
            "max-age=31536000; includeSubDomains; preload".to_string(),
            "max-age=1".into(),
        ];
        assert_eq!(
            preloadable_response(&two).error_codes(),
            ["response.multiple_headers"]
        );
        assert!(
            preloadable_response(&s("max-age=31536000; includeSubDomains; preload"))
                .0
                .is_empty()
        );
    }

    const GOOD: &str = "max-age=31536000; includeSubDomains; preload";

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// Builds a chain from (url, hsts header or "", redirect target or "").
    fn chain(steps: &[(&str, &str, &str)], end: ChainEnd) -> Chain {
        Chain {
            steps: steps
                .iter()
                .map(|(url, sts, loc)| Step {
                    url: u(url),
                    sts: if sts.is_empty() { vec![] } else { s(sts) },
                    location: (!loc.is_empty()).then(|| u(loc)),
                })
                .collect(),
            end,
        }
    }

    /// (name, chain from http://example.com/, expected general codes, expected first-redirect codes)
    #[allow(clippy::type_complexity)]
    fn http_vectors() -> Vec<(&'static str, Chain, Vec<&'static str>, Vec<&'static str>)> {
        use ChainEnd::*;
        vec![
            (
                "good: http -> https same host",
                chain(
                    &[
                        ("http://example.com/", "", "https://example.com/"),
                        ("https://example.com/", GOOD, ""),
                    ],
                    Final,
                ),
                vec![],
                vec![],
            ),
            (
                "no redirect",
                chain(&[("http://example.com/", "", "")], Final),
                vec!["redirects.http.no_redirect"],
                vec![],
            ),
            (
                "redirect to www first (https)",
                chain(
                    &[
                        ("http://example.com/", "", "https://www.example.com/"),
                        ("https://www.example.com/", GOOD, ""),
                    ],
                    Final,
                ),
                vec!["redirects.http.www_first"],
                vec![],
            ),
            (
                "redirect to www first (http)",
                chain(
                    &[
                        ("http://example.com/", "", "http://www.example.com/"),
                        ("http://www.example.com/", "", "https://www.example.com/"),
                        ("https://www.example.com/", GOOD, ""),
                    ],
                    Final,
                ),
                vec!["redirects.http.www_first"],
                vec![],
            ),
            (
                "first redirect to another host",
                chain(
                    &[
                        ("http://example.com/", "", "https://other.org/"),
                        ("https://other.org/", GOOD, ""),
                    ],
                    Final,
                ),
                vec!["redirects.http.first_redirect.insecure"],
                vec![],
            ),
            (
                "first redirect stays on http",
                chain(
                    &[
                        ("http://example.com/", "", "http://example.com/x"),
                        ("http://example.com/x", "", "https://example.com/"),
                        ("https://example.com/", GOOD, ""),
                    ],
                    Final,
                ),
                vec!["redirects.http.first_redirect.insecure"],
                vec![],
            ),
            (
                "first redirect target without HSTS",
                chain(
                    &[
                        ("http://example.com/", "", "https://example.com/"),
                        ("https://example.com/", "max-age=300", ""),
                    ],
                    Final,
                ),
                vec![],
                vec!["redirects.http.first_redirect.no_hsts"],
            ),
            (
                "first redirect target unreachable",
                chain(
                    &[("http://example.com/", "", "https://example.com/")],
                    Failed("connection refused".into()),
                ),
                vec!["redirects.follow_error"],
                vec!["redirects.http.first_redirect.invalid"],
            ),
            (
                "later hop back to http",
                chain(
                    &[
                        ("http://example.com/", "", "https://example.com/"),
                        ("https://example.com/", GOOD, "http://example.com/plain"),
                        ("http://example.com/plain", "", ""),
                    ],
                    Final,
                ),
                vec!["redirects.insecure.subsequent"],
                vec![],
            ),
            (
                "four redirects",
                chain(
                    &[
                        ("http://example.com/", "", "https://example.com/"),
                        ("https://example.com/", GOOD, "https://example.com/a"),
                        ("https://example.com/a", "", "https://example.com/b"),
                        ("https://example.com/b", "", "https://example.com/c"),
                        ("https://example.com/c", "", ""),
                    ],
                    Final,
                ),
                vec!["redirects.too_many"],
                vec![],
            ),
            (
                "three redirects are fine",
                chain(
                    &[
                        ("http://example.com/", "", "https://example.com/"),
                        ("https://example.com/", GOOD, "https://example.com/a"),
                        ("https://example.com/a", "", "https://example.com/b"),
                        ("https://example.com/b", "", ""),
                    ],
                    Final,
                ),
                vec![],
                vec![],
            ),
            (
                "loop stopped at the cap",
                chain(
                    &[
                        ("http://example.com/", "", "http://example.com/"),
                        ("http://example.com/", "", "http://example.com/"),
                    ],
                    TooManyRedirects,
                ),
                vec![
                    "redirects.too_many",
                    "redirects.http.first_redirect.insecure",
                ],
                vec![],
            ),
        ]
    }

    #[test]
    fn http_redirect_vectors() {
        let initial = u("http://example.com/");
        for (name, c, general, first) in http_vectors() {
            let (g, f) = http_redirect_issues(&initial, &c);
            let got_g: Vec<&str> = g.errors().map(|i| i.code).collect();
            let got_f: Vec<&str> = f.errors().map(|i| i.code).collect();
            assert_eq!(got_g, general, "general issues of {name}");
            assert_eq!(got_f, first, "first-redirect issues of {name}");
        }
    }

    #[test]
    fn http_unreachable_is_a_warning() {
        let c = chain(&[], ChainEnd::Failed("connection refused".into()));
        let (g, f) = http_redirect_issues(&u("http://example.com/"), &c);
        assert!(!g.has_errors() && f.0.is_empty());
        assert_eq!(
            g.warnings().next().unwrap().code,
            "redirects.http.does_not_exist"
        );
        assert_eq!(http_to_https(&u("http://example.com/"), &c), None);
    }

    #[test]
    fn hsts_over_http_is_a_warning() {
        let c = chain(
            &[
                ("http://example.com/", GOOD, "https://example.com/"),
                ("https://example.com/", GOOD, ""),
            ],
            ChainEnd::Final,
        );
        let (g, _) = http_redirect_issues(&u("http://example.com/"), &c);
        assert_eq!(
            g.warnings().next().unwrap().code,
            "redirects.http.useless_header"
        );
        assert!(!g.has_errors());
    }

    #[test]
    fn http_to_https_vectors() {
        let initial = u("http://example.com/");
        let cases = [
            ("https://example.com/", true),
            ("https://EXAMPLE.com/x", true),
            ("https://example.com:8443/", true),
            ("https://www.example.com/", false),
            ("http://example.com/x", false),
        ];
        for (target, want) in cases {
            let c = chain(&[("http://example.com/", "", target)], ChainEnd::Final);
            assert_eq!(http_to_https(&initial, &c), Some(want), "{target}");
        }
        let c = chain(&[("http://example.com/", "", "")], ChainEnd::Final);
        assert_eq!(http_to_https(&initial, &c), Some(false));
    }

    #[test]
    fn https_redirect_vectors() {
        let initial = u("https://example.com/");
        let ok = chain(
            &[
                ("https://example.com/", GOOD, "https://www.example.com/"),
                ("https://www.example.com/", "", ""),
            ],
            ChainEnd::Final,
        );
        assert!(https_redirect_issues(&initial, &ok).0.is_empty());
        let insecure = chain(
            &[
                ("https://example.com/", GOOD, "http://example.com/"),
                ("http://example.com/", "", ""),
            ],
            ChainEnd::Final,
        );
        assert_eq!(
            https_redirect_issues(&initial, &insecure).error_codes(),
            ["redirects.insecure.initial"]
        );
        let broken = chain(
            &[("https://example.com/", GOOD, "https://example.com/a")],
            ChainEnd::Failed("timed out".into()),
        );
        assert_eq!(
            https_redirect_issues(&initial, &broken).error_codes(),
            ["redirects.follow_error"]
        );
    }

    #[test]
    fn domain_vectors() {
        let cases: &[(&str, &[&str])] = &[
            ("example.com", &[]),
            ("example.co.uk", &[]),
            ("ready.test", &[]),
            ("www.example.com", &["domain.is_subdomain"]),
            ("a.b.example.co.uk", &["domain.is_subdomain"]),
            ("co.uk", &["domain.format.public_suffix"]),
            (".example.com", &["domain.format.begins_with_dot"]),
            ("example.com.", &["domain.format.ends_with_dot"]),
            ("example..com", &["domain.format.contains_double_dot"]),
            ("localhost", &["domain.format.public_suffix"]),
            ("exa_mple.com", &["domain.format.invalid_characters"]),
            ("127.0.0.1", &["domain.format.is_ip_address"]),
        ];
        for (domain, codes) in cases {
            assert_eq!(&domain_issues(domain).error_codes(), codes, "{domain}");
        }
    }

    #[test]
    fn www_vectors() {
        assert!(www_issues("example.com", &WwwResult::Ok).0.is_empty());
        assert!(
            www_issues("example.com", &WwwResult::Absent("refused".into()))
                .0
                .is_empty()
        );
        assert!(www_issues("example.com", &WwwResult::Skipped).0.is_empty());
        assert_eq!(
            www_issues("example.com", &WwwResult::NoTls("bad cert".into())).error_codes(),
            ["domain.www.no_tls"]
        );
    }
}
