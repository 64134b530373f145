//! `vouch coverage`: per criterion of a framework, the controls that evidence it.

use anyhow::Result;

use super::{CoverageArgs, CoverageFormat, registry_for_listing, report_diagnostics};
use crate::diag::Diagnostics;
use crate::pipeline::control_sources;
use crate::report::coverage;
use crate::{control, exit};

pub(super) fn run(args: &CoverageArgs) -> Result<u8> {
    let registry = registry_for_listing(&mut Diagnostics::new())?;
    let framework = match coverage::Framework::find(&args.framework) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --framework: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    let mut diags = Diagnostics::new();
    let controls = control::load_controls(
        &control_sources(&args.controls)?,
        &registry,
        None,
        &mut diags,
    );
    if report_diagnostics(&diags, false) {
        return Ok(exit::INVALID);
    }
    let cov = coverage::compute(&framework, &controls);
    match args.format {
        CoverageFormat::Json => println!("{}", serde_json::to_string_pretty(&cov)?),
        CoverageFormat::Markdown => print!("{}", coverage::markdown(&cov)),
        CoverageFormat::Table => print!("{}", coverage::table(&cov)),
    }
    for w in coverage::unknown_warnings(&cov) {
        eprintln!("{w}");
    }
    Ok(exit::PASS)
}
