//! `vouch check --store` and `--notify`: a store opened before the run (a bad location stops the
//! check at once) and the finished run filed in it, then what changed posted to each URL.

use anyhow::{Context, Result};

use super::{Location, Store, notify};
use crate::inventory::Inventory;
use crate::report::Report;

/// What filing a run says on the side: the command line prints each on stderr.
pub enum Said {
    /// Done, informational (`--quiet` hides it).
    Info(String),
    /// Something failed without losing the run (a post, reading the previous run).
    Warning(String),
}

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
    timestamp_url: Option<&str>,
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
    let mut store = Store::open(&location, &inv.store, inv)?;
    store.timestamp_url = timestamp_url
        .map(str::to_string)
        .or_else(|| inv.store.timestamp_url.clone());
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
    say: &dyn Fn(Said),
) -> Result<()> {
    let previous = if s.notify.is_empty() {
        None
    } else {
        match s.store.latest_report() {
            Ok(p) => p,
            Err(e) => {
                say(Said::Warning(format!(
                    "--notify: cannot read the previous stored run: {e:#}"
                )));
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
    {
        say(Said::Info(format!(
            "store: run {} filed as ledger entry {} in {} ({})",
            stored.run_id,
            stored.entry.seq,
            stored.bundle,
            match &stored.entry.signer {
                Some(fp) => format!("signed by {fp}"),
                None => "unsigned".into(),
            }
        )));
    }
    match &stored.timestamp {
        Some(Ok(t)) => say(Said::Info(format!(
            "time-stamp: MANIFEST of run {} stamped at {t}",
            stored.run_id
        ))),
        Some(Err(e)) => say(Said::Warning(format!(
            "no time-stamp for run {}: {e}",
            stored.run_id
        ))),
        None => {}
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
                    say(Said::Warning(w));
                }
            }
            None => say(Said::Info(
                "notify: nothing changed since the previous run; nothing sent".into(),
            )),
        }
    } else if !s.notify.is_empty() {
        say(Said::Info(
            "notify: no previous stored run to compare with; nothing sent".into(),
        ));
    }
    Ok(())
}
