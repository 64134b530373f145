//! Renders a saved `vouch.report/v1` JSON file in another format, and times it: the renderers
//! read only the report, so a report kept from a run (or an evidence bundle's `report.json`) can
//! be turned into HTML, SARIF, OSCAL… later.
//!
//! ```text
//! cargo run --example render -- report.json html > report.html
//! cargo run --example render -- report.json all      # every format, timings on stderr
//! ```

use std::time::Instant;

use clap::ValueEnum;
use vouch::report::{Format, Report, Style, render};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(format)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: render REPORT.json FORMAT|all");
    };
    let started = Instant::now();
    let report: Report = serde_json::from_slice(&std::fs::read(&path)?)?;
    eprintln!(
        "read {path}: {} controls, {} results, {} observations in {:.1} ms",
        report.summary.controls,
        report.summary.results.total,
        report.observations.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let formats: Vec<Format> = if format == "all" {
        Format::value_variants().to_vec()
    } else {
        vec![Format::from_str(&format, true).map_err(anyhow::Error::msg)?]
    };
    for f in formats {
        let t = Instant::now();
        let text = render(&report, f, Style::default())?;
        eprintln!(
            "{:<9} {:>10} bytes in {:>8.1} ms",
            format!("{f:?}").to_lowercase(),
            text.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
        if format != "all" {
            print!("{text}");
        }
    }
    Ok(())
}
