//! Stage 1, [`Plan::load`]: the controls, waivers, attestations, signing key and baseline, all
//! read and checked before anything is observed, so a bad input stops the run (exit 2) before
//! any probe runs. Each file is read once: what is judged is what the bundle keeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{
    Bundle, BundleOut, Carry, Context, Notice, Options, Plan, Policy, Refusal, Sources, StoreOut,
};
use crate::control::{self, Control, Source, Targets};
use crate::diag::Diagnostics;
use crate::engine::{self, EngineOptions};
use crate::evidence::{self, replay::Recorded};
use crate::inventory::Inventory;
use crate::probe::{Registry, attestation};
use crate::report::Report;
use crate::waiver;

impl Plan {
    /// Loads and checks everything a check needs: `diags` holds what loading the inventory
    /// found. Loader warnings and `--strict`-able warnings are said through `ctx`.
    pub async fn load(
        sources: Sources,
        inventory: Inventory,
        mut diags: Diagnostics,
        mut options: Options,
        ctx: &Context,
    ) -> Result<Plan, Refusal> {
        let recorded = sources.bundle.as_ref().map(|b| &b.recorded);
        let registry = match recorded {
            // A replay runs no probe, plugins included: they are known from the verified
            // bundle's record.
            Some(recorded) => {
                let mut registry = Registry::builtin();
                crate::probe::plugin::register_recorded(
                    &mut registry,
                    &recorded.report.run.context,
                );
                registry
            }
            None if diags.has_errors() => Registry::builtin(),
            None => registry_for(&inventory, options.engine.timeout, &mut diags).await,
        };
        // Built-in controls name groups a given estate may not have: those become `n/a` with
        // the reason at run time. User-written controls must name groups the inventory defines.
        // `inventory.path` is set exactly when an inventory file (given or ./vouch.toml) was read.
        let group_check =
            (!sources.controls.is_empty() && inventory.path.is_some()).then_some(&inventory);
        let control_sources = check_sources(&sources, recorded)?;
        let mut controls =
            control::load_controls(&control_sources, &registry, group_check, &mut diags);
        if sources.bundle.is_none() {
            // A replay reads no attestation: the auditor need not have the files.
            check_attestations(&controls, &inventory, &mut diags);
        }
        let today = ctx.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let (waiver_source, waivers) =
            load_waivers(&sources, &inventory, &controls, today, &mut diags);
        if diags.has_errors() {
            return Err(Refusal::Invalid(diags));
        }
        if !diags.items.is_empty() {
            ctx.notify(Notice::Diagnostics(diags));
        }
        select(&mut controls, &options, &registry)?;
        warn(
            &controls,
            &inventory,
            sources.bundle.as_ref(),
            &options,
            ctx,
        )?;
        if let (Some((index, count)), None) = (options.shard, &sources.bundle) {
            // `run.shard`: the plan digest over exactly the inputs the bundle keeps, the selected
            // controls, the effective inventory and `--fail-on`.
            let inputs = evidence::collect_inputs(&control_sources, waiver_source.bytes())?;
            let selected: Vec<String> = controls.iter().map(|c| c.id.clone()).collect();
            let plan = crate::shard::plan(
                &inputs,
                &selected,
                &options.targets,
                &inventory,
                options.engine.fail_on,
            );
            options.engine.shard = Some(crate::shard::info(index, count, plan));
        }
        let bundle_out = prepare_bundle(&options, &control_sources, &waiver_source)?;
        let store_out = match &sources.bundle {
            // A replay is not a run of the estate: it is never filed.
            Some(_) => None,
            None => prepare_store(&options, &inventory, &control_sources, &waiver_source)?,
        };
        if options.timestamp_url.is_some() && bundle_out.is_none() && store_out.is_none() {
            return Err(Refusal::Usage(
                "--timestamp-url stamps an evidence bundle: give --evidence-dir DIR or --store \
                 LOCATION"
                    .into(),
            ));
        }
        if options.sign_key.is_some() && bundle_out.is_none() && store_out.is_none() {
            return Err(Refusal::Usage(
                "--sign-key signs an evidence bundle: give --evidence-dir DIR or --store LOCATION"
                    .into(),
            ));
        }
        let baseline = match &options.baseline {
            Some(p) => Some((p.clone(), read_report(p)?)),
            None => None,
        };
        if let Some(bundle) = &sources.bundle
            && sources.controls.is_empty()
            && options.only.is_empty()
            && options.tags.is_empty()
        {
            // The bundle's own controls: judge exactly the controls the original run judged.
            controls.retain(|c| bundle.recorded.report.controls.iter().any(|o| o.id == c.id));
        }
        Ok(Plan {
            carry: Carry {
                clock: ctx.clock.clone(),
                controls,
                waivers,
                waiver_source,
                policy: Policy {
                    fail_on: options.engine.fail_on,
                    baseline,
                    fail_on_new: options.fail_on_new,
                },
                bundle_out,
                store_out,
            },
            registry,
            inventory,
            bundle: sources.bundle,
            options,
        })
    }
}

/// `--only` and `--tag` select controls; `--target` must suit every selected control's probe.
fn select(
    controls: &mut Vec<Control>,
    options: &Options,
    registry: &Registry,
) -> Result<(), Refusal> {
    for id in &options.only {
        if !controls.iter().any(|c| &c.id == id) {
            return Err(Refusal::Usage(format!(
                "--only {id}: no such control; `vouch list` shows the {} available",
                controls.len()
            )));
        }
    }
    controls.retain(|c| {
        (options.only.is_empty() || options.only.contains(&c.id))
            && (options.tags.is_empty() || options.tags.iter().any(|t| c.tags.contains(t)))
    });
    if controls.is_empty() {
        return Err(Refusal::Usage(
            "no control matches the --only/--tag selection".into(),
        ));
    }
    for c in controls.iter() {
        let probe = registry.get(&c.probe).expect("validated");
        for t in &options.targets {
            if let Err(e) = probe.check_target(t) {
                return Err(Refusal::Usage(format!(
                    "--target {t} is not a valid {} target for {}: {e}; expected {}",
                    c.probe,
                    c.id,
                    probe.target_syntax()
                )));
            }
        }
    }
    Ok(())
}

/// Says the warnings that do not stop a run (an undefined inventory group; a replayed run's own
/// warnings); with `--strict`, any of them stops it.
fn warn(
    controls: &[Control],
    inventory: &Inventory,
    bundle: Option<&Bundle>,
    options: &Options,
    ctx: &Context,
) -> Result<(), Refusal> {
    if let Some(bundle) = bundle {
        let recorded = &bundle.recorded.report.run.warnings;
        for w in recorded {
            ctx.notify(Notice::RecordedWarning(w.clone()));
        }
        if options.strict && !recorded.is_empty() {
            return Err(Refusal::Usage(
                "--strict: the recorded run has warnings".into(),
            ));
        }
        return Ok(());
    }
    let opts = EngineOptions {
        targets_override: options.targets.clone(),
        ..EngineOptions::default()
    };
    let warnings = engine::undefined_groups(controls, inventory, &opts);
    for w in &warnings {
        ctx.notify(Notice::Warning(w.clone()));
    }
    if options.strict && !warnings.is_empty() {
        return Err(Refusal::Usage(format!(
            "--strict: {} warning{}; nothing was checked",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

/// The bundle to write, checked now: its folder must be new (or empty), its key readable; its
/// inputs are the control and waiver bytes this run loaded.
fn prepare_bundle(
    options: &Options,
    sources: &[Source],
    waivers: &WaiverSource,
) -> Result<Option<BundleOut>> {
    let Some(dir) = &options.evidence_dir else {
        return Ok(None);
    };
    evidence::check_destination(dir)?;
    let key = match &options.sign_key {
        Some(p) => Some(evidence::sign::load_signing_key(p)?),
        None => None,
    };
    Ok(Some(BundleOut {
        dir: dir.clone(),
        key,
        sources: sources.to_vec(),
        waivers: waivers.bytes().map(<[u8]>::to_vec),
        timestamp_url: options.timestamp_url.clone(),
    }))
}

/// The store a live run is filed in (`--store`, else `[store] location` unless `--evidence-dir`
/// is given), opened now so a bad location stops the check before anything runs.
fn prepare_store(
    options: &Options,
    inventory: &Inventory,
    sources: &[Source],
    waivers: &WaiverSource,
) -> Result<Option<StoreOut>, Refusal> {
    // The store's S3 client blocks on a runtime of its own: off this runtime's threads.
    let store = std::thread::scope(|s| {
        s.spawn(|| {
            crate::store::check::open_for_check(
                options.store.as_deref(),
                options.evidence_dir.is_some(),
                &options.notify,
                options.timestamp_url.as_deref(),
                inventory,
            )
        })
        .join()
    })
    .map_err(|_| Refusal::Usage("opening the evidence store failed unexpectedly".into()))?
    .map_err(|e| Refusal::Usage(format!("{e:#}")))?;
    let Some(store) = store else {
        return Ok(None);
    };
    let key = match &options.sign_key {
        Some(p) => Some(evidence::sign::load_signing_key(p)?),
        None => None,
    };
    Ok(Some(StoreOut {
        store: Some(store),
        key,
        sources: sources.to_vec(),
        waivers: waivers.bytes().map(<[u8]>::to_vec),
    }))
}

/// Reads a JSON report (`--baseline`, `vouch diff`).
pub fn read_report(path: &Path) -> Result<Report> {
    // Read as a stream: its observations are spooled as they are parsed, never held whole.
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_reader(std::io::BufReader::with_capacity(256 << 10, file)).with_context(|| {
        format!(
            "{} is not a vouch JSON report (`vouch check --format json`)",
            path.display()
        )
    })
}

/// `--controls`: files, folders, `builtin` and `builtin:PACK` (none: the built-in library).
pub fn control_sources(paths: &[PathBuf]) -> Result<Vec<Source>> {
    control::builtin::resolve(paths).map_err(anyhow::Error::msg)
}

/// The control sources of a check: `--controls`, else a replayed bundle's own controls (the
/// verified bytes), else the built-in library. Files are read once, here
/// ([`evidence::snapshot_sources`]): what is judged is what the bundle keeps.
fn check_sources(sources: &Sources, recorded: Option<&Recorded>) -> Result<Vec<Source>, Refusal> {
    if let (Some(bundle), Some(recorded)) = (&sources.bundle, recorded)
        && sources.controls.is_empty()
    {
        let prefix = format!("{}/", evidence::INPUT_CONTROLS);
        let texts: Vec<Source> = recorded
            .inputs
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .map(|(path, bytes)| Source::Text {
                name: bundle.dir.join(path),
                text: String::from_utf8_lossy(bytes).into_owned(),
            })
            .collect();
        if !texts.is_empty() {
            return Ok(texts);
        }
    }
    let paths = control_sources(&sources.controls).map_err(|e| Refusal::Usage(format!("{e:#}")))?;
    Ok(evidence::snapshot_sources(&paths))
}

/// Where a check's waivers came from, with the bytes that were loaded.
#[derive(Debug)]
pub enum WaiverSource {
    None,
    /// A file: `--waivers`, or the inventory's `waivers` (never in a replay).
    File(PathBuf, Vec<u8>),
    /// A replayed bundle's `inputs/waivers.toml`.
    Bundle(Vec<u8>),
}

impl WaiverSource {
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            WaiverSource::None => None,
            WaiverSource::File(_, b) | WaiverSource::Bundle(b) => Some(b),
        }
    }

    /// `run.replay.waivers`: `bundle`, `file:<path>` or `none`.
    pub fn source(&self) -> String {
        match self {
            WaiverSource::None => "none".into(),
            WaiverSource::File(p, _) => format!("file:{}", p.display()),
            WaiverSource::Bundle(_) => "bundle".into(),
        }
    }
}

/// Loads the waivers: `--waivers`; else, in a replay, the bundle's own (never the inventory's
/// or the working folder's, which are not part of the evidence); else the inventory's
/// `waivers`. Each file is read once: the bytes judged are the bytes a bundle keeps.
fn load_waivers(
    sources: &Sources,
    inv: &Inventory,
    controls: &[Control],
    today: jiff::civil::Date,
    diags: &mut Diagnostics,
) -> (WaiverSource, Vec<waiver::Waiver>) {
    let ids: Vec<&str> = controls.iter().map(|c| c.id.as_str()).collect();
    let path = match (&sources.waivers, &sources.bundle) {
        (Some(p), _) => p.clone(),
        (None, Some(bundle)) => {
            return match bundle.recorded.inputs.get(evidence::INPUT_WAIVERS) {
                Some(bytes) => {
                    let name = bundle.dir.join(evidence::INPUT_WAIVERS);
                    let text = String::from_utf8_lossy(bytes);
                    let w = waiver::parse(&name, &text, &ids, today, diags);
                    (WaiverSource::Bundle(bytes.clone()), w)
                }
                None => (WaiverSource::None, Vec::new()),
            };
        }
        (None, None) => match &inv.waivers {
            Some(p) => p.clone(),
            None => return (WaiverSource::None, Vec::new()),
        },
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let w = waiver::parse(&path, &text, &ids, today, diags);
            (WaiverSource::File(path, bytes), w)
        }
        Err(_) => {
            // The loader names the problem.
            let w = waiver::load(&path, &ids, today, diags);
            (WaiverSource::None, w)
        }
    }
}

/// Checks that every attestation a control names exists in the attestations file.
pub fn check_attestations(controls: &[Control], inv: &Inventory, diags: &mut Diagnostics) {
    let users: Vec<&Control> = controls
        .iter()
        // The built-in library names the attestations of one company's page: one an estate
        // lacks is the probe's `error` (with a hint) at run time, not a load error.
        .filter(|c| c.probe == "attestation" && c.skip.is_none() && !c.origin.builtin)
        .collect();
    if users.is_empty() {
        return;
    }
    let Some(path) = &inv.attestations else {
        // The probe itself reports the missing file as an `error` with a hint, per target.
        return;
    };
    let entries = attestation::load(path, diags);
    if diags.has_errors() {
        return;
    }
    for c in users {
        let Targets::List(targets) = &c.targets else {
            continue;
        };
        for (t, span) in targets.iter().zip(&c.origin.target_spans) {
            if !entries.iter().any(|a| &a.id == t) {
                let ids: Vec<&str> = entries.iter().map(|a| a.id.as_str()).collect();
                diags.error(
                    c.origin.targets_file.unwrap_or(c.origin.file),
                    span.clone(),
                    "unknown-attestation",
                    format!("no attestation `{t}` in {}", path.display()),
                    format!("attestations on file: {}", ids.join(", ")),
                );
            }
        }
    }
}

/// The built-in probes plus the inventory's plugins, each described once for this run; a plugin
/// that cannot be described is a diagnostic (exit 2).
pub async fn registry_for(inv: &Inventory, timeout: Duration, diags: &mut Diagnostics) -> Registry {
    let mut registry = Registry::builtin();
    if !inv.plugins.is_empty() {
        crate::probe::plugin::register(&mut registry, inv, timeout, diags).await;
    }
    registry
}
