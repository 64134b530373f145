//! Adapters for the evidence store: `check --store` / `--notify`, and `verify --store`. The
//! logic is in [`crate::store`]; these only turn flags into calls and results into output.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::evidence::Trust;
use crate::exit;
use crate::inventory::Inventory;
use crate::store::{Location, Store, Window};

/// `verify --store LOCATION [--from D --to D]`.
#[derive(Debug, Args, Clone)]
pub struct StoreWindowArgs {
    /// Verify an evidence store instead of one bundle: the ledger's chain, and every run's
    /// bundle (in the window given by --from/--to).
    #[arg(long, value_name = "LOCATION")]
    pub store: Option<String>,
    /// First day (UTC, YYYY-MM-DD) whose runs are checked.
    #[arg(long, value_name = "DATE", requires = "store")]
    pub from: Option<jiff::civil::Date>,
    /// Last day (UTC, YYYY-MM-DD) whose runs are checked.
    #[arg(long, value_name = "DATE", requires = "store")]
    pub to: Option<jiff::civil::Date>,
}

pub fn verify_store(
    location: &str,
    args: &StoreWindowArgs,
    trust: &Trust,
    inv: &Inventory,
) -> Result<u8> {
    let location = Location::parse(location).map_err(anyhow::Error::msg)?;
    let store = Store::open_existing(&location, &inv.store, inv)?;
    let window = Window {
        from: args.from,
        to: args.to,
    };
    let v = store.verify(trust, &window)?;
    for p in &v.problems {
        eprintln!("{p}");
    }
    if v.problems.is_empty() {
        println!(
            "ok: {} ledger entries chain unbroken; {} runs' bundles verified in {location}",
            v.entries, v.runs
        );
        Ok(exit::PASS)
    } else {
        eprintln!(
            "FAILED: {} problem{} in {location}",
            v.problems.len(),
            if v.problems.len() == 1 { "" } else { "s" }
        );
        Ok(exit::FAILED)
    }
}

/// The inventory a store command reads for `[aws]` and `[store]` settings: the file given, else
/// ./vouch.toml when present, else none.
pub fn store_inventory(path: Option<&Path>) -> Result<Inventory> {
    let path = crate::inventory::discover(path);
    let Some(path) = path else {
        return Ok(Inventory::default());
    };
    let mut diags = crate::diag::Diagnostics::new();
    match Inventory::load(&path, &mut diags) {
        Some(inv) => Ok(inv),
        None => anyhow::bail!("{}", diags.render_short()),
    }
}
