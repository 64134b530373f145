//! `--format json`: the report as `vouch.report/v1`, pretty-printed.

use super::Report;

pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}

/// Writes exactly the bytes of [`render`] into `w`, without holding the whole document in
/// memory (a report with thousands of observations is hundreds of megabytes of JSON).
pub fn write<W: std::io::Write>(report: &Report, mut w: W) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut w, report)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}
