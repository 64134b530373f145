//! `vouch diff OLD NEW`: what changed between two JSON reports; exit 1 when something regressed.

use anyhow::Result;

use super::{DiffArgs, DiffFormat};
use crate::pipeline::read_report;
use crate::{diff, exit};

pub(super) fn run(args: &DiffArgs) -> Result<u8> {
    let old = read_report(&args.old)?;
    let new = read_report(&args.new)?;
    let drift = diff::compare(&old, &new);
    match args.format {
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&drift)?),
        DiffFormat::Table => print!("{}", drift.render_table()),
        DiffFormat::Markdown => print!("{}", drift.render_markdown()),
    }
    Ok(if drift.regressions.is_empty() {
        exit::PASS
    } else {
        exit::FAILED
    })
}
