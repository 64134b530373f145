//! `vouch validate [PATH]...`: lint control files; exit 2 on any error.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{ValidateArgs, registry_for, report_diagnostics};
use crate::diag::Diagnostics;
use crate::inventory::Inventory;
use crate::pipeline::{check_attestations, control_sources};
use crate::probe::Registry;
use crate::{control, exit};

pub(super) fn run(args: &ValidateArgs, color: bool) -> Result<u8> {
    let mut diags = Diagnostics::new();
    let inv_path = crate::inventory::discover(args.inventory.as_deref());
    let mut inv = inv_path
        .as_ref()
        .and_then(|p| Inventory::load(p, &mut diags));
    if !args.plugins.is_empty() {
        let inv = inv.get_or_insert_with(Inventory::default);
        for spec in &args.plugins {
            inv.add_plugin(spec)
                .map_err(anyhow::Error::msg)
                .context("--plugin")?;
        }
    }
    let registry = match &inv {
        Some(inv) => registry_for(inv, Duration::from_secs(10), &mut diags)?,
        None => Registry::builtin(),
    };
    let controls = control::load_controls(
        &control_sources(&args.paths)?,
        &registry,
        inv.as_ref(),
        &mut diags,
    );
    if let Some(inv) = &inv {
        check_attestations(&controls, inv, &mut diags);
    }
    if report_diagnostics(&diags, color) {
        return Ok(exit::INVALID);
    }
    let files: std::collections::BTreeSet<_> = controls.iter().map(|c| &c.origin.path).collect();
    println!(
        "ok: {} control{} in {} file{} are valid",
        controls.len(),
        if controls.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    Ok(exit::PASS)
}
