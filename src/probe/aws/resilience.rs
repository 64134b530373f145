//! What the resilience probes (`aws.backup`, `aws.rds`, `aws.dynamodb`) share and the other
//! AWS probes do not need: reading ARNs, walking token-paginated listings safely, turning a
//! "latest restorable time" into a lag, and the small table helpers behind their `render()`.

use jiff::Timestamp;
use serde_json::Value;

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

    /// The ARN's region, when it names one (S3 and IAM ARNs do not).
    pub fn region(&self) -> Option<&'a str> {
        (!self.region.is_empty()).then_some(self.region)
    }
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

/// How far `latest` is behind now, as a duration fact (`"4m10s"`); a time in the future (clock
/// skew between AWS and this machine) is no lag at all.
pub(super) fn lag(latest: Timestamp) -> String {
    let secs = Timestamp::now().as_second() - latest.as_second();
    format_duration(secs.max(0) as u64)
}

/// A fact as a table cell: `?` when not observed, `—` for an observed absence.
pub(super) fn show(obs: &Observation, path: &str) -> String {
    match obs.facts.get(path) {
        None => "?".into(),
        Some(Value::Null) => "—".into(),
        Some(Value::Bool(true)) => "yes".into(),
        Some(Value::Bool(false)) => "no".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// One column of a spot-check table: a header and the fact it shows.
#[derive(Clone, Copy)]
pub(super) struct Col {
    pub header: &'static str,
    pub path: &'static str,
    /// A timestamp fact, shown as `YYYY-MM-DD HH:MM`.
    pub time: bool,
}

pub(super) const fn col(header: &'static str, path: &'static str) -> Col {
    Col {
        header,
        path,
        time: false,
    }
}

pub(super) const fn time_col(header: &'static str, path: &'static str) -> Col {
    Col {
        header,
        path,
        time: true,
    }
}

/// One table, one row per observation (`first` heads the target column), followed by the facts
/// that were not observed, grouped by target and reason so a denied call is one line.
pub(super) fn render_table(observations: &[Observation], first: &str, cols: &[Col]) -> String {
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
                show(obs, c.path)
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

/// `2026-01-31T10:00:00Z` → `2026-01-31 10:00` (shorter table cells).
pub(super) fn short_time(obs: &Observation, path: &str) -> String {
    let s = show(obs, path);
    match s.parse::<Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => s,
    }
}

/// Whether a plain resource name is acceptable as a target: not empty, bounded, printable,
/// and not a wildcard other than a lone `*`.
pub(super) fn plain_target(target: &str) -> bool {
    !target.is_empty()
        && target.len() <= 2048
        && !target.chars().any(|c| c.is_whitespace() || c.is_control())
        && (target == "*" || !target.contains('*'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
