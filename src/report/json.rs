//! `--format json`: the report as `vouch.report/v1`, pretty-printed.

use super::Report;

pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}
