//! Replay: re-evaluates controls against the observations recorded in a bundle, with no probe
//! and no network, so an auditor can re-perform a run and a changed control can be tried against
//! last month's evidence.
//!
//! The population of a control is what the original run examined (its targets, `*` patterns
//! expanded as they were then), plus any literal target the control now names. A target with a
//! recorded observation is evaluated again with [`crate::engine::evaluate`]; one the original run
//! could not observe keeps its original `error` (or `n/a`) result, since there is nothing new to
//! judge. Checks that depend on the clock (`within`) are judged at the original run's end by
//! default, so a replay of an untouched bundle gives the same verdicts; [`ReplayAt::Now`] asks
//! "would this evidence still pass today?".

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::{Problem, REPORT};
use crate::control::{Control, Targets};
use crate::engine;
use crate::expect::Verdict;
use crate::inventory::Inventory;
use crate::probe::{Observation, Registry};
use crate::report::{self, ControlResult, Replay, Report, Run, TargetResult};

/// A verified bundle, loaded.
#[derive(Debug)]
pub struct Recorded {
    /// The original report.
    pub report: Report,
    /// Observation key (`sha256:<hex>`, the digest of the file) → observation.
    pub observations: BTreeMap<String, Observation>,
}

/// When clock-dependent checks are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayAt {
    /// The original run's `finished_at`: an auditor re-performing the run.
    Original,
    /// This moment: is the recorded evidence still good enough today?
    Now,
}

/// Verifies the bundle at `dir` (every digest, nothing missing or extra) and loads it.
pub fn load(dir: &Path) -> Result<Recorded> {
    let v = super::verify(dir, None);
    if !v.ok() {
        let list: Vec<String> = v.problems.iter().map(Problem::to_string).collect();
        bail!(
            "{} does not verify; refusing to replay it:\n  {}",
            dir.display(),
            list.join("\n  ")
        );
    }
    let text = std::fs::read(dir.join(REPORT))
        .with_context(|| format!("reading {}", dir.join(REPORT).display()))?;
    let report: Report = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a vouch report", dir.join(REPORT).display()))?;
    if report.schema != report::SCHEMA {
        bail!(
            "{} has schema `{}`; this vouch replays `{}`",
            dir.join(REPORT).display(),
            report.schema,
            report::SCHEMA
        );
    }
    let mut observations = BTreeMap::new();
    let obs_dir = dir.join("observations");
    if obs_dir.is_dir() {
        for entry in std::fs::read_dir(&obs_dir)? {
            let path = entry?.path();
            let bytes = std::fs::read(&path)?;
            let digest = hex::encode(Sha256::digest(&bytes));
            let obs: Observation = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not an observation", path.display()))?;
            observations.insert(format!("sha256:{digest}"), obs);
        }
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
    })
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
    let started_at = Timestamp::now();
    let original = &recorded.report;
    let now = match at {
        ReplayAt::Original => original.run.finished_at,
        ReplayAt::Now => started_at,
    };
    let mut used: BTreeMap<String, Observation> = BTreeMap::new();
    let mut results = Vec::with_capacity(controls.len());
    for c in controls {
        let before = original.controls.iter().find(|o| o.id == c.id);
        let mut rows: BTreeMap<String, TargetResult> = BTreeMap::new();
        if let Some(before) = before {
            for r in &before.results {
                let row = match &r.observation {
                    Some(id) => judge(c, id, recorded, now, &mut used),
                    None => unjudged(r),
                };
                rows.insert(r.target.clone(), row);
            }
        }
        let named: Vec<String> = match &c.targets {
            Targets::List(l) => l.clone(),
            // Groups are resolved only for controls the original run did not have.
            Targets::Group(g) if before.is_none() => {
                inventory.targets.get(g).cloned().unwrap_or_default()
            }
            Targets::Group(_) => Vec::new(),
        };
        let is_pattern = |t: &str| registry.get(&c.probe).is_some_and(|p| p.is_pattern(t));
        for t in named {
            if rows.contains_key(&t) {
                continue;
            }
            if is_pattern(&t) {
                // A pattern covers every recorded observation of this probe with these params.
                let found: Vec<(String, String)> = recorded
                    .observations
                    .iter()
                    .filter(|(_, o)| o.probe == c.probe && o.params == c.params)
                    .map(|(id, o)| (o.target.clone(), id.clone()))
                    .collect();
                for (target, id) in found {
                    rows.entry(target)
                        .or_insert_with(|| judge(c, &id, recorded, now, &mut used));
                }
                continue;
            }
            let found = recorded
                .observations
                .iter()
                .find(|(_, o)| o.probe == c.probe && o.target == t && o.params == c.params)
                .map(|(id, _)| id.clone());
            let row = match found {
                Some(id) => judge(c, &id, recorded, now, &mut used),
                None => missing(format!(
                    "the evidence holds no {} observation of `{t}` with this control's params",
                    c.probe
                )),
            };
            rows.insert(t, row);
        }
        if rows.is_empty() {
            rows.insert(
                "(targets)".into(),
                TargetResult {
                    verdict: Verdict::NotApplicable,
                    engine: Some(report::EngineRow::Population),
                    ..missing("the evidence holds no target of this control".into())
                },
            );
        }
        results.push(ControlResult {
            id: c.id.clone(),
            title: c.title.clone(),
            claim: c.claim.clone(),
            severity: c.severity,
            probe: c.probe.clone(),
            frameworks: c.frameworks.clone(),
            tags: c.tags.clone(),
            remediation: c.remediation.clone(),
            verdict: Verdict::NotApplicable,
            examined_nothing: false,
            require: c.require,
            satisfied_by: Vec::new(),
            results: rows
                .into_iter()
                .map(|(target, mut r)| {
                    r.target = target;
                    r
                })
                .collect(),
        });
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
            replay: Some(Replay {
                bundle: bundle.display().to_string(),
                original_started_at: original.run.started_at,
                original_finished_at: original.run.finished_at,
                evaluated_at: now,
            }),
            warnings: original.run.warnings.clone(),
        },
        summary: report::Summary::default(),
        controls: results,
        observations: used,
        unused_waivers: Vec::new(),
        coverage: Vec::new(),
    };
    report.summarise();
    report
}

/// Evaluates `c` on the recorded observation `id`.
fn judge(
    c: &Control,
    id: &str,
    recorded: &Recorded,
    now: Timestamp,
    used: &mut BTreeMap<String, Observation>,
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
    if obs.params != c.params {
        return missing(
            "the evidence was recorded with other params than this control's; observe again".into(),
        );
    }
    used.insert(id.to_string(), obs.clone());
    engine::evaluate(c, obs, Some(id.to_string()), now)
}

/// The original result of a target that was never observed, waiver and expiry removed (both are
/// decided again).
fn unjudged(r: &TargetResult) -> TargetResult {
    let mut r = r.clone();
    if let Some(w) = r.waiver.take() {
        r.verdict = w.original_verdict;
    }
    r.expires_at = None;
    r
}

fn missing(why: String) -> TargetResult {
    TargetResult {
        target: String::new(),
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
