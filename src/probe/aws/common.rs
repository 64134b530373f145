//! What the AWS probe modules share beyond the client factory, in one place: reading ARNs,
//! walking token-paginated listings safely, turning a "latest restorable time" into a lag, the
//! checks on a target's syntax, and the spot-check tables their `render()` draws. Nothing here
//! talks to AWS.

use jiff::Timestamp;
use serde_json::Value;

use super::show;
use crate::expect::format_duration;
use crate::probe::{Observation, ProbeError, ProbeErrorKind};

/// Upper bound on pages read from one listing. Far above any real account (10,000 pages of
/// 100–1,000 items); it only stops an endpoint that hands out fresh tokens forever.
pub(super) const MAX_PAGES: usize = 10_000;

/// Why `*` cannot be observed as such.
pub(super) const PATTERN: &str = "`*` is a pattern: discovery expands it into every resource (vouch check, vouch probe KIND '*')";

/// The parts of an ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        (parts.next()? == "arn").then_some(())?;
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        (!partition.is_empty() && !service.is_empty() && !resource.is_empty()).then_some(Arn {
            service,
            region,
            account,
            resource,
        })
    }

    /// The ARN's region, when it names one (S3, IAM and CloudFront ARNs do not).
    pub fn region(&self) -> Option<&'a str> {
        (!self.region.is_empty()).then_some(self.region)
    }
}

/// The region field of an ARN (`arn:aws:logs:eu-west-1:…` → `eu-west-1`); `None` for names
/// and for global ARNs whose region field is empty.
pub fn arn_region(s: &str) -> Option<&str> {
    Arn::parse(s)?.region()
}

/// The service field of an ARN (`arn:aws:cloudfront::…` → `cloudfront`).
pub fn arn_service(s: &str) -> Option<&str> {
    Arn::parse(s).map(|a| a.service)
}

/// The resource part of an ARN (everything after the fifth colon).
pub fn arn_resource(s: &str) -> Option<&str> {
    Arn::parse(s).map(|a| a.resource)
}

/// The token for the next page, or `None` when the listing is done. An empty token, or one
/// equal to the token just used, ends the walk: a broken endpoint must not loop us forever.
pub(super) fn next_token(used: Option<&str>, returned: Option<&str>) -> Option<String> {
    match returned {
        Some(t) if !t.is_empty() && Some(t) != used => Some(t.to_string()),
        _ => None,
    }
}

/// The error for a listing that is still going after [`MAX_PAGES`] pages.
pub(super) fn too_many_pages(api: &str) -> ProbeError {
    ProbeError::new(
        ProbeErrorKind::Protocol,
        format!("{api} returned more than {MAX_PAGES} pages; stopped reading"),
    )
    .with_hint("the endpoint keeps returning new page tokens; check that it is really AWS")
}

/// Reads every page of a token-paginated listing, the one way every AWS probe pages:
/// `fetch(token)` makes one page's call (through `Session::call`, so it is permitted, recorded
/// and mapped), `take(page)` keeps what it needs and returns the page's next token. The walk
/// ends when the token is absent, empty or the one just used (a broken endpoint must not loop
/// us forever), and fails after [`MAX_PAGES`] pages with [`too_many_pages`] naming `api`.
pub(super) async fn walk_pages<P, Fut>(
    api: &str,
    mut fetch: impl FnMut(Option<String>) -> Fut,
    mut take: impl FnMut(P) -> Option<String>,
) -> Result<(), ProbeError>
where
    Fut: std::future::Future<Output = Result<P, ProbeError>>,
{
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = fetch(token.clone()).await?;
        match next_token(token.as_deref(), take(page).as_deref()) {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
    Err(too_many_pages(api))
}

/// How far `latest` is behind now, as a duration fact (`"4m10s"`); a time in the future (clock
/// skew between AWS and this machine) is no lag at all.
pub(super) fn lag(latest: Timestamp) -> String {
    let secs = Timestamp::now().as_second() - latest.as_second();
    format_duration(secs.max(0) as u64)
}

/// The error for a target `observe` cannot parse: a pattern (`*`) is discovered, never observed,
/// and anything else gets what the probe's `check_target` says is wrong with it.
pub(super) fn invalid_target(pattern: bool, check: Result<(), String>) -> ProbeError {
    ProbeError::new(
        ProbeErrorKind::InvalidTarget,
        if pattern {
            PATTERN.to_string()
        } else {
            check.err().unwrap_or_default()
        },
    )
}

/// Whether a target is free of whitespace and control characters and of sane length (a
/// `prefix*` pattern included).
pub fn plain_target(t: &str) -> bool {
    !t.is_empty() && t.len() <= 2048 && !t.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A plain resource name: [`plain_target`], and no wildcard other than a lone `*`.
pub(super) fn plain_name(target: &str) -> bool {
    plain_target(target) && (target == "*" || !target.contains('*'))
}

/// A fact as a table cell: `yes`/`no` for booleans, lists comma-separated, `—` for an observed
/// absence or an empty list, `?` when not observed.
pub fn cell(obs: &Observation, path: &str) -> String {
    match obs.facts.get(path) {
        Some(Value::Bool(true)) => "yes".into(),
        Some(Value::Bool(false)) => "no".into(),
        Some(Value::Array(items)) if items.is_empty() => "—".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        _ => show(obs, path),
    }
}

/// `2026-01-31T10:00:00Z` → `2026-01-31 10:00` (shorter table cells).
pub(super) fn short_time(obs: &Observation, path: &str) -> String {
    let s = cell(obs, path);
    match s.parse::<Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => s,
    }
}

/// One column of a spot-check table: a header and the fact it shows.
#[derive(Clone, Copy)]
pub(super) struct Col<'a> {
    pub header: &'a str,
    pub path: &'a str,
    /// A timestamp fact, shown as `YYYY-MM-DD HH:MM`.
    pub time: bool,
}

pub(super) const fn col<'a>(header: &'a str, path: &'a str) -> Col<'a> {
    Col {
        header,
        path,
        time: false,
    }
}

pub(super) const fn time_col<'a>(header: &'a str, path: &'a str) -> Col<'a> {
    Col {
        header,
        path,
        time: true,
    }
}

/// One table, one row per observation (`first` heads the target column), followed by the facts
/// that were not observed, grouped by target and reason so a denied call is one line.
pub(super) fn render_table(observations: &[Observation], first: &str, cols: &[Col<'_>]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    let mut header = vec![first.to_string()];
    header.extend(cols.iter().map(|c| c.header.to_string()));
    t.set_header(header);
    for obs in observations {
        let mut row = vec![obs.target.clone()];
        row.extend(cols.iter().map(|c| {
            if c.time {
                short_time(obs, c.path)
            } else {
                cell(obs, c.path)
            }
        }));
        t.add_row(row);
    }
    let mut out = format!("{t}\n");
    for obs in observations {
        let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
        for (path, why) in &obs.unobserved {
            match by_reason.iter_mut().find(|(w, _)| *w == why.as_str()) {
                Some((_, paths)) => paths.push(path),
                None => by_reason.push((why, vec![path])),
            }
        }
        for (why, paths) in by_reason {
            out.push_str(&format!(
                "{}: not observed: {}: {why}\n",
                obs.target,
                paths.join(", ")
            ));
        }
    }
    out
}

/// [`render_table`] with `(header, fact)` columns.
pub fn render_rows(observations: &[Observation], first: &str, columns: &[(&str, &str)]) -> String {
    let cols: Vec<Col<'_>> = columns.iter().map(|(h, p)| col(h, p)).collect();
    render_table(observations, first, &cols)
}

/// A two-column table (fact, value) of the given paths, headed by `title`, followed by the
/// reasons for anything not observed: the readable `vouch probe` output of one resource.
pub fn render_facts(obs: &Observation, title: &str, paths: &[&str]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(vec!["fact", "value"]);
    for p in paths {
        t.add_row(vec![p.to_string(), cell(obs, p)]);
    }
    format!(
        "{} {title}\n{t}\n{}",
        obs.probe,
        super::unobserved_notes(std::slice::from_ref(obs))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks `tokens` as an endpoint's answers (page i says "next is tokens[i]"); returns the
    /// tokens asked with, in order, or the error.
    async fn walk(tokens: &[Option<&str>]) -> Result<Vec<Option<String>>, ProbeError> {
        let asked = std::cell::RefCell::new(Vec::new());
        let mut i = 0;
        walk_pages(
            "test:List",
            |token| {
                asked.borrow_mut().push(token);
                let page = tokens.get(i).copied().flatten().map(str::to_string);
                i += 1;
                async move { Ok::<_, ProbeError>(page) }
            },
            |next| next,
        )
        .await?;
        Ok(asked.into_inner())
    }

    #[tokio::test]
    async fn pages_are_walked_until_the_token_ends_repeats_or_is_empty() {
        let s = |t: &str| Some(t.to_string());
        assert_eq!(walk(&[None]).await.unwrap(), [None]);
        assert_eq!(
            walk(&[Some("a"), Some("b"), None]).await.unwrap(),
            [None, s("a"), s("b")]
        );
        // A token that repeats, or an empty one, ends the walk instead of looping.
        assert_eq!(
            walk(&[Some("a"), Some("a"), Some("b")]).await.unwrap(),
            [None, s("a")]
        );
        assert_eq!(walk(&[Some("")]).await.unwrap(), [None]);
    }

    #[tokio::test]
    async fn an_endpoint_with_endless_fresh_tokens_is_stopped_with_an_error() {
        let mut n = 0u64;
        let err = walk_pages(
            "test:List",
            |_| {
                n += 1;
                let next = Some(n.to_string());
                async move { Ok::<_, ProbeError>(next) }
            },
            |next| next,
        )
        .await
        .unwrap_err();
        assert_eq!(n as usize, MAX_PAGES);
        assert!(
            err.message.contains("test:List returned more than"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_failing_page_fails_the_walk() {
        let err = walk_pages(
            "test:List",
            |_| async { Err::<Option<String>, _>(ProbeError::new(ProbeErrorKind::Denied, "no")) },
            |next| next,
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind, ProbeErrorKind::Denied);
    }

    #[test]
    fn arns_split_into_their_parts() {
        let a = Arn::parse("arn:aws:rds:eu-west-1:111122223333:cluster:prod-db").unwrap();
        assert_eq!(a.service, "rds");
        assert_eq!(a.region(), Some("eu-west-1"));
        assert_eq!(a.account, "111122223333");
        assert_eq!(a.resource, "cluster:prod-db");
        let s3 = Arn::parse("arn:aws:s3:::my-bucket").unwrap();
        assert_eq!(s3.region(), None);
        assert_eq!(s3.resource, "my-bucket");
        assert!(Arn::parse("prod-db").is_none());
        assert!(Arn::parse("arn:aws:rds").is_none());
    }

    #[test]
    fn page_tokens_that_repeat_or_are_empty_end_the_walk() {
        assert_eq!(next_token(None, Some("a")), Some("a".into()));
        assert_eq!(next_token(Some("a"), Some("b")), Some("b".into()));
        assert_eq!(next_token(Some("a"), Some("a")), None);
        assert_eq!(next_token(Some("a"), Some("")), None);
        assert_eq!(next_token(Some("a"), None), None);
    }

    #[test]
    fn lag_is_a_duration_and_never_negative() {
        let ten_min_ago = Timestamp::now() - jiff::SignedDuration::from_secs(600);
        let l = lag(ten_min_ago);
        assert!(l == "10m" || l == "10m1s", "{l}");
        let future = Timestamp::now() + jiff::SignedDuration::from_secs(600);
        assert_eq!(lag(future), "0s");
    }

    #[test]
    fn arn_parts() {
        let a = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main";
        assert_eq!(arn_region(a), Some("eu-west-1"));
        assert_eq!(arn_service(a), Some("cloudtrail"));
        assert_eq!(arn_resource(a), Some("trail/main"));
        let g = "arn:aws:cloudfront::123456789012:distribution/E1";
        assert_eq!(arn_region(g), None);
        assert_eq!(arn_resource(g), Some("distribution/E1"));
        assert_eq!(arn_region("main"), None);
        assert_eq!(
            arn_resource("arn:aws:logs:us-east-1:1:log-group:/a/b:*"),
            Some("log-group:/a/b:*")
        );
    }
}
