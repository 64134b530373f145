//! Small pieces the audit-logging and identity probes (`aws.cloudtrail`, `aws.logs`,
//! `aws.iam`, `aws.guardduty`, `aws.wafv2`) share: the spot-check table they render, how a
//! failed secondary call makes its facts unobserved, and the region in an ARN. Nothing here
//! talks to AWS.

use super::{show, unobserved_notes};
use crate::probe::Observation;

/// A fact as a table cell: `yes`/`no` for booleans, lists comma-separated, `—` for an observed
/// absence, `?` when not observed.
pub fn cell(obs: &Observation, path: &str) -> String {
    match obs.facts.get(path) {
        Some(serde_json::Value::Bool(true)) => "yes".into(),
        Some(serde_json::Value::Bool(false)) => "no".into(),
        Some(serde_json::Value::Array(items)) if items.is_empty() => "—".into(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        _ => show(obs, path),
    }
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
        unobserved_notes(std::slice::from_ref(obs))
    )
}

/// One row per observation (`vouch probe KIND '*'`): the target, then each `(header, fact)`
/// column, then the reasons for anything not observed.
pub fn render_rows(observations: &[Observation], first: &str, columns: &[(&str, &str)]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec![first.to_string()];
    header.extend(columns.iter().map(|(h, _)| h.to_string()));
    t.set_header(header);
    for obs in observations {
        let mut row = vec![obs.target.clone()];
        row.extend(columns.iter().map(|(_, path)| cell(obs, path)));
        t.add_row(row);
    }
    format!("{t}\n{}", unobserved_notes(observations))
}

/// The region field of an ARN (`arn:aws:logs:eu-west-1:…` → `eu-west-1`); `None` for names
/// and for global ARNs whose region field is empty.
pub fn arn_region(s: &str) -> Option<&str> {
    let mut parts = s.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    let _service = parts.next()?;
    parts.next().filter(|r| !r.is_empty())
}

/// The service field of an ARN (`arn:aws:cloudfront::…` → `cloudfront`).
pub fn arn_service(s: &str) -> Option<&str> {
    let mut parts = s.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    parts.next().filter(|s| !s.is_empty())
}

/// The resource part of an ARN (everything after the fifth colon).
pub fn arn_resource(s: &str) -> Option<&str> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn").then(|| parts[5])
}

/// Whether a target is free of whitespace and control characters and of sane length.
pub fn plain_target(t: &str) -> bool {
    !t.is_empty() && t.len() <= 2048 && !t.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

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
