//! `vouch list`: the controls with their claims, probes, severities and framework mappings.

use anyhow::Result;

use super::{ListArgs, ListFormat, registry_for_listing, report_diagnostics};
use crate::diag::Diagnostics;
use crate::pipeline::control_sources;
use crate::report::catalog;
use crate::{control, exit};

pub(super) fn run(args: &ListArgs) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let registry = registry_for_listing(&mut diags)?;
    let controls = control::load_controls(
        &control_sources(&args.controls)?,
        &registry,
        None,
        &mut diags,
    );
    if report_diagnostics(&diags, false) {
        return Ok(exit::INVALID);
    }
    let text = match args.format {
        ListFormat::Json => catalog::controls_json(&controls)?,
        ListFormat::Markdown => catalog::claims_markdown(&controls),
        ListFormat::Table => catalog::controls_table(&controls),
    };
    print!("{text}");
    Ok(exit::PASS)
}
