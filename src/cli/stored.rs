//! Adapters for the evidence store: `check --store` / `--notify`, and `verify --store`. The
//! logic is in [`crate::store`]; these only turn flags into calls and results into output.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;

use crate::evidence::Trust;
use crate::exit;
use crate::inventory::Inventory;
use crate::report::Report;
use crate::store::{Location, Store, Window, notify};

/// A store opened for `check`, with what filing a run needs.
pub struct ForCheck {
    store: Store,
    inventory: Option<Vec<u8>>,
    notify: Vec<String>,
}

/// `--store` (else `[store] location`, unless `--evidence-dir` was given), opened before anything
/// runs, so a bad location stops the check at once.
pub fn open_for_check(
    flag: Option<&str>,
    evidence_dir: bool,
    notify: &[String],
    inv: &Inventory,
) -> Result<Option<ForCheck>> {
    let text = match (flag, &inv.store.location) {
        (Some(t), _) => t.to_string(),
        (None, Some(t)) if !evidence_dir => t.clone(),
        _ => {
            if !notify.is_empty() {
                anyhow::bail!(
                    "--notify posts what changed since the previous stored run: give --store \
                     LOCATION (or [store] location in vouch.toml)"
                );
            }
            return Ok(None);
        }
    };
    let location = Location::parse(&text).map_err(anyhow::Error::msg)?;
    let store = Store::open(&location, &inv.store, inv)?;
    let inventory = match &inv.path {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    Ok(Some(ForCheck {
        store,
        inventory,
        notify: notify.to_vec(),
    }))
}

/// Files the run in the store, then posts what changed to each `--notify` URL. A post that
/// fails is a warning; the run is stored and the exit code is the run's.
pub fn file_run(
    s: &ForCheck,
    report: &mut Report,
    inputs: &[(String, Vec<u8>)],
    key: Option<&ed25519_dalek::SigningKey>,
    quiet: bool,
) -> Result<()> {
    let previous = if s.notify.is_empty() {
        None
    } else {
        match s.store.latest_report() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: --notify: cannot read the previous stored run: {e:#}");
                None
            }
        }
    };
    let stored = s.store.put_run(
        report,
        inputs,
        key,
        s.inventory.as_deref(),
        jiff::Timestamp::now(),
    )?;
    if !quiet {
        eprintln!(
            "store: run {} filed as ledger entry {} in {} ({})",
            stored.run_id,
            stored.entry.seq,
            stored.bundle,
            match &stored.entry.signer {
                Some(fp) => format!("signed by {fp}"),
                None => "unsigned".into(),
            }
        );
    }
    if let Some((prev, old)) = previous {
        let drift = crate::diff::compare(&old, report);
        let msg = notify::message(
            &drift,
            &old,
            report,
            &s.store.location.to_string(),
            notify::run_ref(&stored.run_id, stored.entry.started_at, &stored.bundle),
            notify::run_ref(
                &prev.run_id,
                prev.started_at,
                &s.store.describe(&prev.bundle),
            ),
        );
        match msg {
            Some(msg) => {
                for w in notify::post(&s.notify, &msg) {
                    eprintln!("warning: {w}");
                }
            }
            None if !quiet => {
                eprintln!("notify: nothing changed since the previous run; nothing sent")
            }
            None => {}
        }
    } else if !s.notify.is_empty() && !quiet {
        eprintln!("notify: no previous stored run to compare with; nothing sent");
    }
    Ok(())
}

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
    let path = match path {
        Some(p) => Some(p.to_path_buf()),
        None => Some(Path::new("vouch.toml").to_path_buf()).filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok(Inventory::default());
    };
    let mut diags = crate::diag::Diagnostics::new();
    match Inventory::load(&path, &mut diags) {
        Some(inv) => Ok(inv),
        None => anyhow::bail!("{}", diags.render_short()),
    }
}
