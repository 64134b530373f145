//! Replay: re-evaluates controls against the observations recorded in a bundle, with no probe
//! and no network, so an auditor can re-perform a run and a changed control can be tried against
//! last month's evidence.
//!
//! The bundle is verified first ([`load`], with the caller's [`Trust`]), and every file replay
//! uses is read once, from the verified manifest, and its digest checked on the bytes read.
//!
//! The population of a control is what the original run examined (its targets, `*` patterns
//! expanded as they were then), plus any literal target the control now names. A target with a
//! recorded observation is evaluated again with [`crate::engine::evaluate`], and only if that
//! observation was made of that very target by the control's probe with its params. A row with no
//! observation is `error` whatever the original report said: replay vouches only for what the
//! bundle recorded, and a report row is a claim, not evidence. Checks that depend on the clock (`within`) are judged at the original run's end by
//! default, so a replay of an untouched bundle gives the same verdicts; [`ReplayAt::Now`] asks
//! "would this evidence still pass today?".

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::{MAX_FILE_BYTES, Problem, REPORT, Trust};
use crate::control::{Control, Targets};
use crate::engine;
use crate::expect::Verdict;
use crate::inventory::Inventory;
use crate::probe::{AccountRef, Observation, Registry};
use crate::report::{self, ObservationStore, Replay, Report, Run, SignatureCheck, TargetResult};

/// A verified bundle, loaded.
#[derive(Debug)]
pub struct Recorded {
    /// The original report.
    pub report: Report,
    /// Observation key (`sha256:<hex>`, the digest of the file) → observation (spooled, read
    /// back one at a time).
    pub observations: ObservationStore,
    /// The run's inputs (`inputs/…` path → the verified bytes): its control files and waivers.
    pub inputs: BTreeMap<String, Vec<u8>>,
    /// What verification established about the signature.
    pub signature: SignatureCheck,
}

/// When clock-dependent checks are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayAt {
    /// The original run's `finished_at`: an auditor re-performing the run.
    Original,
    /// This moment: is the recorded evidence still good enough today?
    Now,
}

/// Verifies the bundle at `dir` (every digest, nothing missing or extra, the signature as
/// `trust` requires) and loads it. Each file is read once more after verification, and its
/// digest is checked again on the bytes that are used: a file swapped in between is refused.
pub fn load(dir: &Path, trust: &Trust) -> Result<Recorded> {
    let v = super::verify(dir, trust);
    if !v.ok() {
        let list: Vec<String> = v.problems.iter().map(Problem::to_string).collect();
        bail!(
            "{} does not verify; refusing to replay it:\n  {}",
            dir.display(),
            list.join("\n  ")
        );
    }
    let (Some(manifest), Some(signature)) = (v.manifest, v.signature) else {
        bail!("{} does not verify; refusing to replay it", dir.display());
    };
    let read = |rel: &str, sha256: &str| -> Result<Vec<u8>> {
        let bytes = super::read_regular(&dir.join(rel), MAX_FILE_BYTES)
            .map_err(|e| anyhow::anyhow!("{e}; refusing to replay {}", dir.display()))?;
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            bail!(
                "{} changed after it was verified; refusing to replay {}",
                dir.join(rel).display(),
                dir.display()
            );
        }
        Ok(bytes)
    };
    let mut report: Option<Report> = None;
    let mut observations = ObservationStore::new();
    let mut inputs = BTreeMap::new();
    for e in &manifest.entries {
        if e.path == REPORT {
            report = Some(read_report(dir, &e.sha256)?);
        } else if e.path.starts_with("observations/") {
            let bytes = read(&e.path, &e.sha256)?;
            let obs: Observation = serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not an observation", dir.join(&e.path).display())
            })?;
            observations
                .insert_bytes(format!("sha256:{}", e.sha256), &bytes, &obs)
                .with_context(|| format!("keeping {}", dir.join(&e.path).display()))?;
        } else if e.path.starts_with("inputs/") {
            inputs.insert(e.path.clone(), read(&e.path, &e.sha256)?);
        }
    }
    let Some(report) = report else {
        bail!("{} holds no {REPORT}", dir.display());
    };
    if report.schema != report::SCHEMA {
        bail!(
            "{} has schema `{}`; this vouch replays `{}`",
            dir.join(REPORT).display(),
            report.schema,
            report::SCHEMA
        );
    }
    for k in report.observations.keys() {
        if !observations.contains_key(k) {
            bail!(
                "{} names observation {k}, which the bundle does not hold",
                dir.join(REPORT).display()
            );
        }
    }
    Ok(Recorded {
        report,
        observations,
        inputs,
        signature,
    })
}

/// Reads the bundle's `report.json` as a stream (its observations are spooled as they are
/// parsed, never held whole), checking on the way that its digest is still `sha256`.
fn read_report(dir: &Path, sha256: &str) -> Result<Report> {
    let path = dir.join(REPORT);
    let file = super::open_regular(&path, MAX_FILE_BYTES)
        .map_err(|e| anyhow::anyhow!("{e}; refusing to replay {}", dir.display()))?;
    let mut hashing = HashingReader {
        inner: std::io::Read::take(file, MAX_FILE_BYTES),
        hasher: Sha256::new(),
    };
    let parsed: Result<Report, _> =
        serde_json::from_reader(std::io::BufReader::with_capacity(256 << 10, &mut hashing));
    // Whatever serde left unread still counts (trailing whitespace).
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    if hex::encode(hashing.hasher.finalize()) != sha256 {
        bail!(
            "{} changed after it was verified; refusing to replay {}",
            path.display(),
            dir.display()
        );
    }
    parsed.with_context(|| format!("{} is not a vouch report", path.display()))
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Re-evaluates `controls` against `recorded`; `inventory` resolves target groups of controls the
/// original run did not have. No probe is called: `registry` only answers which targets are
/// patterns.
pub fn replay(
    controls: &[Control],
    registry: &Registry,
    inventory: &Inventory,
    recorded: &Recorded,
    bundle: &Path,
    at: ReplayAt,
) -> Report {
    let clock = engine::Clock::system();
    replay_with(
        controls,
        registry,
        inventory,
        recorded,
        bundle,
        at,
        clock.now(),
        &clock,
    )
}

/// [`replay`], started at `started_at` (what [`ReplayAt::Now`] judges at) and finished when
/// `clock` says: a fixed clock gives the same report, byte for byte, for the same bundle.
#[allow(clippy::too_many_arguments)]
pub fn replay_with(
    controls: &[Control],
    registry: &Registry,
    inventory: &Inventory,
    recorded: &Recorded,
    bundle: &Path,
    at: ReplayAt,
    started_at: Timestamp,
    clock: &engine::Clock,
) -> Report {
    let original = &recorded.report;
    let now = match at {
        ReplayAt::Original => original.run.finished_at,
        ReplayAt::Now => started_at,
    };
    let (mut report, used) =
        judge_all(controls, registry, inventory, recorded, now, Rows::Distrust);
    report.observations = recorded.observations.subset(&used);
    report.run.started_at = started_at;
    report.run.finished_at = clock.now();
    report.run.replay = Some(Replay {
        bundle: bundle.display().to_string(),
        original_started_at: original.run.started_at,
        original_finished_at: original.run.finished_at,
        evaluated_at: now,
        signature: Some(recorded.signature.clone()),
        waivers: None,
    });
    report
}

/// Judges `controls` again on the rows and observations of `recorded` (the shards of one run,
/// put together by [`crate::shard::combine`]) at `now`, as [`replay`] does, except that a row
/// the shard recorded as `error` with no observation (unreachable, timed out, denied) keeps its
/// reason and hint: the shards' bundles were verified, and merging is not re-performing.
/// The observations the report uses stay where they are spooled (a merge of thousands of
/// observations holds none of their bodies in memory).
pub fn rejudge(
    controls: &[Control],
    registry: &Registry,
    recorded: Recorded,
    now: Timestamp,
) -> Report {
    let (mut report, used) = judge_all(
        controls,
        registry,
        &Inventory::default(),
        &recorded,
        now,
        Rows::KeepErrors,
    );
    report.observations = recorded.observations.subset(&used);
    report
}

/// How a recorded row with no observation is judged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Replay: only the engine's own rows are kept; any other is `error` (see [`unobserved`]).
    Distrust,
    /// Merge: also a recorded `error` is kept as recorded.
    KeepErrors,
}

fn judge_all(
    controls: &[Control],
    registry: &Registry,
    inventory: &Inventory,
    recorded: &Recorded,
    now: Timestamp,
    rows_mode: Rows,
) -> (Report, std::collections::BTreeSet<String>) {
    let started_at = Timestamp::now();
    let original = &recorded.report;
    let mut used: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut results = Vec::with_capacity(controls.len());
    for c in controls {
        let before = original.controls.iter().find(|o| o.id == c.id);
        // Keyed by (account, target): one name in two accounts is two rows.
        let mut rows: BTreeMap<(Option<AccountRef>, String), TargetResult> = BTreeMap::new();
        if let Some((target, row)) = engine::skipped_result(c) {
            // Skipped by an override of the bundle's (or the given) controls: judged on nothing.
            rows.insert((None, target), row);
        } else if let Some(before) = before {
            for r in &before.results {
                let row = match &r.observation {
                    Some(id) => judge(c, &r.target, id, recorded, now, &mut used),
                    None => unobserved(r, rows_mode),
                };
                rows.insert((r.account.clone(), r.target.clone()), row);
            }
        }
        let named: Vec<String> = match &c.targets {
            _ if c.skip.is_some() => Vec::new(),
            Targets::List(l) => l.clone(),
            // Groups are resolved only for controls the original run did not have.
            Targets::Group(g) if before.is_none() => {
                inventory.targets.get(g).cloned().unwrap_or_default()
            }
            Targets::Group(_) => Vec::new(),
        };
        let is_pattern = |t: &str| registry.get(&c.probe).is_some_and(|p| p.is_pattern(t));
        for t in named {
            if rows.keys().any(|(_, target)| target == &t) {
                continue;
            }
            if is_pattern(&t) {
                // A pattern covers every recorded observation of this probe with these params.
                let found: Vec<(Option<AccountRef>, String, String)> = recorded
                    .observations
                    .heads()
                    .filter(|(_, o)| o.probe == c.probe && o.params == c.params)
                    .map(|(id, o)| (o.account.clone(), o.target.clone(), id.clone()))
                    .collect();
                for (account, target, id) in found {
                    let row = judge(c, &target, &id, recorded, now, &mut used);
                    rows.entry((account, target)).or_insert(row);
                }
                continue;
            }
            // One observation per account in a multi-account run (`account`), else one.
            let found: Vec<(Option<AccountRef>, String)> = recorded
                .observations
                .heads()
                .filter(|(_, o)| o.probe == c.probe && o.target == t && o.params == c.params)
                .map(|(id, o)| (o.account.clone(), id.clone()))
                .collect();
            if found.is_empty() {
                let row = missing(format!(
                    "the evidence holds no {} observation of `{t}` with this control's params",
                    c.probe
                ));
                rows.insert((None, t.clone()), row);
            }
            for (account, id) in found {
                let row = judge(c, &t, &id, recorded, now, &mut used);
                rows.insert((account, t.clone()), row);
            }
        }
        if rows.is_empty() {
            rows.insert(
                (None, "(targets)".into()),
                TargetResult {
                    verdict: Verdict::NotApplicable,
                    engine: Some(report::EngineRow::Population),
                    ..missing("the evidence holds no target of this control".into())
                },
            );
        }
        let rows = rows
            .into_iter()
            .map(|((account, target), mut r)| {
                r.target = target;
                r.account = account;
                r
            })
            .collect();
        results.push(engine::control_result(c, rows));
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let mut report = Report {
        schema: report::SCHEMA.into(),
        tool: report::Tool::default(),
        run: Run {
            started_at,
            finished_at: Timestamp::now(),
            complete: original.run.complete,
            fail_on: original.run.fail_on,
            context: original.run.context.clone(),
            replay: None,
            warnings: original.run.warnings.clone(),
            evidence: None,
            shard: None,
            merge: None,
        },
        summary: report::Summary::default(),
        controls: results,
        observations: ObservationStore::new(),
        unused_waivers: Vec::new(),
        coverage: Vec::new(),
    };
    report.summarise();
    (report, used)
}

/// Evaluates `c` on the recorded observation `id`, which must be of `target`.
fn judge(
    c: &Control,
    target: &str,
    id: &str,
    recorded: &Recorded,
    now: Timestamp,
    used: &mut std::collections::BTreeSet<String>,
) -> TargetResult {
    let Some(obs) = recorded.observations.get(id) else {
        return missing(format!("observation {id} is not in the bundle"));
    };
    if obs.probe != c.probe {
        return missing(format!(
            "the evidence was recorded by the {} probe; this control uses {}",
            obs.probe, c.probe
        ));
    }
    if obs.target != target {
        return missing(format!(
            "observation {id} was made of `{}`, not of this row's target `{target}`",
            obs.target
        ));
    }
    if obs.params != c.params {
        return missing(
            "the evidence was recorded with other params than this control's; observe again".into(),
        );
    }
    used.insert(id.to_string());
    engine::evaluate(c, &obs, Some(id.to_string()), now)
}

/// A row the original run recorded with no observation. The engine's own rows (an undefined
/// group, an empty population, a denied discovery, an interrupted run: `result.engine`) have none
/// by construction and are kept as recorded unless they claim `pass`. Any other row — whatever it
/// said, even `pass` or `n/a` — has nothing in the bundle behind it, so it is `error`, with the
/// original reason kept.
fn unobserved(r: &TargetResult, mode: Rows) -> TargetResult {
    let original = r.waiver.as_ref().map_or(r.verdict, |w| w.original_verdict);
    let kept = (r.engine.is_some() && original != Verdict::Pass)
        || (mode == Rows::KeepErrors && original == Verdict::Error);
    if kept {
        return TargetResult {
            verdict: original,
            waiver: None,
            ..r.clone()
        };
    }
    let why = match &r.error {
        Some(e) => {
            format!("no observation in the evidence backs this row (recorded as {original}: {e})")
        }
        None => format!("no observation in the evidence backs this row (recorded as {original})"),
    };
    missing(why)
}

fn missing(why: String) -> TargetResult {
    TargetResult {
        target: String::new(),
        account: None,
        verdict: Verdict::Error,
        observation: None,
        checks: Vec::new(),
        error: Some(why),
        hint: Some(
            "replay judges only what the bundle recorded; run `vouch check` to observe".into(),
        ),
        waiver: None,
        expires_at: None,
        engine: None,
    }
}
