//! The engine: plan → dedupe → observe (bounded, timed) → evaluate → [`Report`].
//!
//! Planning expands each control over its targets (inventory groups, literal lists, and `*`
//! patterns the probe discovers) into observations `(probe, target, params)`. Identical
//! observations are made once: three controls about one endpoint cost one TLS scan.
//! Observations run concurrently under one global limit, a per-host limit and a per-observation
//! timeout, all in this one place. A probe that fails or times out becomes an `error` verdict for
//! the controls that needed it, and the run goes on. Results come out in a stable order (control
//! id, then target) whatever finished first.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::control::{Control, Severity, Targets};
use crate::expect::{Check, Verdict};
use crate::probe::{Observation, Params, ProbeContext, ProbeError, ProbeErrorKind, Registry};
use crate::report::{ControlResult, EngineRow, Report, Run, SCHEMA, Summary, TargetResult, Tool};

/// How a run behaves (flags, not control files).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Observations in flight at once.
    pub concurrency: usize,
    /// Observations in flight against one host at once.
    pub per_host: usize,
    /// Per-observation timeout (also the discovery timeout).
    pub timeout: Duration,
    /// Replaces every control's targets (`--target`).
    pub targets_override: Vec<String>,
    pub fail_on: Severity,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: 32,
            per_host: 4,
            timeout: Duration::from_secs(10),
            targets_override: Vec::new(),
            fail_on: Severity::Low,
        }
    }
}

/// Progress, for a progress bar or a log.
#[derive(Clone, Debug)]
pub enum Progress {
    /// Planning done: this many distinct observations will be made.
    Planned(usize),
    /// One observation finished (ok or not).
    Observed { probe: String, target: String },
}

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A future that resolves when the run should stop early (Ctrl-C).
pub type Interrupt = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One distinct observation to make.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ObsKey {
    probe: String,
    target: String,
    /// Canonical JSON of the params (serde_json maps are sorted).
    params: String,
}

/// Where a control's target came from, and how to get its observation.
enum Planned {
    Observe(ObsKey),
    /// Discovery or group expansion gave a verdict of its own.
    Direct(TargetResult),
}

/// Runs `controls` and returns the report. The library entry point behind `vouch check`.
pub async fn run(
    controls: &[Control],
    registry: &Registry,
    ctx: &ProbeContext,
    opts: &EngineOptions,
    progress: Option<ProgressFn>,
    interrupt: Option<Interrupt>,
) -> Report {
    let started_at = Timestamp::now();
    let mut interrupt = interrupt.unwrap_or_else(|| Box::pin(futures::future::pending()));
    // Tell the probes which facts the controls read, so costly unread facts cost nothing.
    let ctx = &ctx.with_facts_used(facts_used(controls));

    // 1. Discovery: expand every pattern target once per (probe, pattern).
    let mut patterns: Vec<(String, String)> = Vec::new();
    let mut expanded: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, c) in controls.iter().enumerate() {
        // A skipped control is not observed, nor are its patterns discovered.
        let targets = if c.skip.is_some() {
            Vec::new()
        } else {
            targets_of(c, ctx, opts)
        };
        if let Some(probe) = registry.get(&c.probe) {
            for t in &targets {
                if probe.is_pattern(t) && !patterns.contains(&(c.probe.clone(), t.clone())) {
                    patterns.push((c.probe.clone(), t.clone()));
                }
            }
        }
        expanded.push((i, targets));
    }
    let mut discovery = futures::stream::iter(patterns.into_iter().map(|(kind, pattern)| {
        let probe = registry.get(&kind).expect("validated probe");
        let ctx = ctx.clone();
        let timeout = opts.timeout;
        async move {
            let res = match tokio::time::timeout(timeout, probe.discover(&pattern, &ctx)).await {
                Ok(r) => r,
                Err(_) => Err(ProbeError::timeout(timeout)),
            };
            ((kind, pattern), res)
        }
    }))
    .buffer_unordered(opts.concurrency.max(1));
    // A signal during discovery stops the run too: what was not discovered is not observed.
    let mut complete = true;
    let mut discovered: HashMap<(String, String), Result<Vec<String>, ProbeError>> = HashMap::new();
    loop {
        tokio::select! {
            next = discovery.next() => match next {
                Some((key, res)) => { discovered.insert(key, res); }
                None => break,
            },
            _ = &mut interrupt => { complete = false; break; }
        }
    }
    drop(discovery);

    // 2. Plan: every control × target becomes an observation key or a direct result.
    let mut plans: Vec<Vec<(String, Planned)>> = Vec::with_capacity(controls.len());
    let mut keys: Vec<ObsKey> = Vec::new();
    let mut planned: std::collections::HashSet<ObsKey> = std::collections::HashSet::new();
    for (i, targets) in &expanded {
        let c = &controls[*i];
        let mut plan = Vec::new();
        if let Some(row) = skipped_row(c) {
            plan.push(row);
            plans.push(plan);
            continue;
        }
        if targets.is_empty() {
            let (why, kind) = match &c.targets {
                Targets::Group(g) if !ctx.inventory.targets.contains_key(g) => (
                    format!("the inventory defines no target group `{g}`"),
                    EngineRow::UndefinedGroup,
                ),
                Targets::Group(g) => (
                    format!("target group `{g}` is empty"),
                    EngineRow::Population,
                ),
                Targets::List(_) => ("no targets".to_string(), EngineRow::Population),
            };
            let mut row = direct(Verdict::NotApplicable, why, None);
            row.engine = Some(kind);
            plan.push((format!("({})", group_name(c)), Planned::Direct(row)));
        }
        let params = serde_json::to_string(&c.params).unwrap_or_default();
        for t in targets {
            let probe = registry.get(&c.probe);
            let is_pattern = probe.as_ref().is_some_and(|p| p.is_pattern(t));
            let concrete: Vec<String> = if is_pattern {
                match discovered.get(&(c.probe.clone(), t.clone())) {
                    Some(Ok(found)) => {
                        let too_few = match c.min_population {
                            Some(min) => (found.len() as u64) < min,
                            None => found.is_empty(),
                        };
                        if too_few || found.is_empty() {
                            plan.push((
                                t.clone(),
                                Planned::Direct(population_result(found.len(), c.min_population)),
                            ));
                        }
                        found.clone()
                    }
                    Some(Err(e)) => {
                        let mut row = error_result(e);
                        row.engine = Some(EngineRow::Discovery);
                        plan.push((t.clone(), Planned::Direct(row)));
                        Vec::new()
                    }
                    None => {
                        // Interrupted before this pattern was discovered.
                        let mut row = direct(
                            Verdict::Error,
                            "the run was interrupted before this pattern was discovered".into(),
                            None,
                        );
                        row.engine = Some(EngineRow::Interrupted);
                        plan.push((t.clone(), Planned::Direct(row)));
                        Vec::new()
                    }
                }
            } else {
                vec![t.clone()]
            };
            for target in concrete {
                let key = ObsKey {
                    probe: c.probe.clone(),
                    target: target.clone(),
                    params: params.clone(),
                };
                if planned.insert(key.clone()) {
                    keys.push(key.clone());
                }
                plan.push((target, Planned::Observe(key)));
            }
        }
        plans.push(plan);
    }
    if let Some(p) = &progress {
        p(Progress::Planned(keys.len()));
    }

    // 3. Observe: each distinct key once, bounded globally and per host, each under a timeout.
    let host_limits: Arc<std::sync::Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
    let mut observed: HashMap<ObsKey, Result<Observation, ProbeError>> = HashMap::new();
    let mut stream = futures::stream::iter(keys.iter().cloned().map(|key| {
        let probe = registry.get(&key.probe).expect("validated probe");
        let ctx = ctx.clone();
        let host_limits = host_limits.clone();
        let per_host = opts.per_host.max(1);
        let timeout = opts.timeout;
        let progress = progress.clone();
        async move {
            let host = probe.host_key(&key.target);
            let sem = host_limits
                .lock()
                .expect("host limits")
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
                .clone();
            let _permit = sem.acquire_owned().await.expect("semaphore never closed");
            let params: Params = serde_json::from_str(&key.params).unwrap_or_default();
            let start = Instant::now();
            let res = match tokio::time::timeout(timeout, probe.observe(&key.target, &params, &ctx))
                .await
            {
                Ok(Ok(mut obs)) => {
                    obs.duration_ms = start.elapsed().as_millis() as u64;
                    obs.params = params;
                    Ok(obs)
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(ProbeError::timeout(timeout)),
            };
            if let Some(p) = &progress {
                p(Progress::Observed {
                    probe: key.probe.clone(),
                    target: key.target.clone(),
                });
            }
            (key, res)
        }
    }))
    .buffer_unordered(opts.concurrency.max(1));
    while complete {
        tokio::select! {
            next = stream.next() => match next {
                Some((key, res)) => { observed.insert(key, res); }
                None => break,
            },
            _ = &mut interrupt => { complete = false; break; }
        }
    }
    drop(stream);

    // 4. Evaluate.
    let now = Timestamp::now();
    let mut observations: BTreeMap<String, Observation> = BTreeMap::new();
    let mut obs_ids: HashMap<ObsKey, String> = HashMap::new();
    for (key, res) in &observed {
        if let Ok(obs) = res {
            let id = observation_id(obs);
            obs_ids.insert(key.clone(), id.clone());
            observations.insert(id, obs.clone());
        }
    }
    let mut results = Vec::with_capacity(controls.len());
    for (c, plan) in controls.iter().zip(plans) {
        let mut rs: Vec<TargetResult> = plan
            .into_iter()
            .map(|(target, planned)| {
                let mut r = match planned {
                    Planned::Direct(r) => r,
                    Planned::Observe(key) => match observed.get(&key) {
                        Some(Ok(obs)) => evaluate(c, obs, obs_ids.get(&key).cloned(), now),
                        Some(Err(e)) => error_result(e),
                        None => TargetResult {
                            engine: Some(EngineRow::Interrupted),
                            ..direct(
                                Verdict::Error,
                                "the run was interrupted before this target was observed".into(),
                                None,
                            )
                        },
                    },
                };
                r.target = target;
                r
            })
            .collect();
        rs.sort_by(|a, b| a.target.cmp(&b.target));
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
            skipped: c.skip.clone(),
            results: rs,
        });
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));

    let mut report = Report {
        schema: SCHEMA.into(),
        tool: Tool::default(),
        run: Run {
            started_at,
            finished_at: Timestamp::now(),
            complete,
            fail_on: opts.fail_on,
            context: ctx.run_info(),
            evidence: None,
            replay: None,
            warnings: undefined_groups(controls, &ctx.inventory, opts),
        },
        summary: Summary::default(),
        controls: results,
        observations,
        coverage: Vec::new(),
        unused_waivers: Vec::new(),
    };
    report.summarise();
    report
}

/// The concrete target strings of a control (before pattern discovery).
/// Probe kind → every fact path the controls' `expect` and `where` read (alternatives too).
fn facts_used(controls: &[Control]) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    fn walk(e: &crate::expect::Expectation, out: &mut std::collections::BTreeSet<String>) {
        out.insert(e.fact.clone());
        for alt in &e.or {
            walk(alt, out);
        }
    }
    let mut used: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for c in controls {
        let set = used.entry(c.probe.clone()).or_default();
        for e in c.expect.iter().chain(&c.scope) {
            walk(e, set);
        }
    }
    used
}

fn targets_of(c: &Control, ctx: &ProbeContext, opts: &EngineOptions) -> Vec<String> {
    if !opts.targets_override.is_empty() {
        return opts.targets_override.clone();
    }
    match &c.targets {
        Targets::List(l) => l.clone(),
        Targets::Group(g) => ctx.inventory.targets.get(g).cloned().unwrap_or_default(),
    }
}

fn group_name(c: &Control) -> String {
    match &c.targets {
        Targets::Group(g) => g.clone(),
        Targets::List(_) => "targets".into(),
    }
}

/// The key of an observation in the report: `sha256:` + the digest of its JSON.
pub fn observation_id(obs: &Observation) -> String {
    // The bundle's observation files hold exactly these bytes (sorted keys, any build).
    let bytes = crate::evidence::observation_bytes(obs);
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

/// The one `n/a` row of a control an `[[override]]` skipped, named after its targets.
fn skipped_row(c: &Control) -> Option<(String, Planned)> {
    skipped_result(c).map(|(t, r)| (t, Planned::Direct(r)))
}

/// The one row of a skipped control: `(target label, n/a result with the reason, owner and
/// place)`. Live runs and replays both make it here.
pub fn skipped_result(c: &Control) -> Option<(String, TargetResult)> {
    let skip = c.skip.as_ref()?;
    let mut row = direct(Verdict::NotApplicable, skip.describe(), None);
    row.engine = Some(EngineRow::Skipped);
    Some(("(skipped)".to_string(), row))
}

fn direct(verdict: Verdict, error: String, hint: Option<String>) -> TargetResult {
    TargetResult {
        target: String::new(),
        verdict,
        observation: None,
        checks: Vec::new(),
        error: Some(error),
        hint,
        waiver: None,
        expires_at: None,
        engine: None,
    }
}

fn error_result(e: &ProbeError) -> TargetResult {
    let kind = match e.kind {
        ProbeErrorKind::Timeout => "timed out: ",
        ProbeErrorKind::Denied => "access denied: ",
        ProbeErrorKind::Unreachable => "unreachable: ",
        ProbeErrorKind::NotFound => "not found: ",
        _ => "",
    };
    direct(
        Verdict::Error,
        format!("{kind}{}", e.message),
        e.hint.clone(),
    )
}

/// A pattern that found fewer resources than the control's `min_population`, or none. Without
/// a `min_population`, an empty population is `n/a` and the control examined nothing (exit 3
/// unless `allow_empty`); with one, too few is a failed `population` check.
fn population_result(found: usize, min: Option<u64>) -> TargetResult {
    let explicit = min.is_some();
    let min = min.unwrap_or(1);
    let check = Check {
        fact: "population".into(),
        op: crate::expect::Op::Ge,
        expected: serde_json::json!(min),
        observed: Some(serde_json::json!(found)),
        verdict: if found as u64 >= min {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        message: None,
        or: Vec::new(),
    };
    let judged = explicit && min > 0;
    TargetResult {
        target: String::new(),
        verdict: if judged {
            check.verdict
        } else {
            Verdict::NotApplicable
        },
        observation: None,
        checks: if judged { vec![check] } else { Vec::new() },
        error: Some(format!("discovery found {found} resources")),
        hint: None,
        waiver: None,
        expires_at: None,
        engine: Some(EngineRow::Population),
    }
}

/// Evaluates one control on one observation: `where` first (outside it → `n/a`), then `expect`.
pub fn evaluate(
    c: &Control,
    obs: &Observation,
    id: Option<String>,
    now: Timestamp,
) -> TargetResult {
    let mut result = TargetResult {
        target: obs.target.clone(),
        verdict: Verdict::Pass,
        observation: id,
        checks: Vec::new(),
        error: None,
        hint: None,
        waiver: None,
        expires_at: None,
        engine: None,
    };
    for s in &c.scope {
        let check = s.evaluate_where(&obs.facts, &obs.unobserved, now);
        match check.verdict {
            Verdict::Pass => {}
            Verdict::Fail => {
                result.verdict = Verdict::NotApplicable;
                result.error = Some(format!("outside scope: {}", check.describe()));
                return result;
            }
            _ => {
                // Cannot tell whether the target is in scope: fail closed.
                result.verdict = Verdict::Error;
                result.error = Some(format!("cannot decide scope: {}", check.describe()));
                result.checks.push(check);
                return result;
            }
        }
    }
    result.checks = c
        .expect
        .iter()
        .map(|e| e.evaluate(&obs.facts, &obs.unobserved, now))
        .collect();
    result.verdict = Verdict::worst(result.checks.iter().map(|c| c.verdict));
    result
}

/// One warning per inventory group that a selected control names and the inventory does not
/// define (a typo in `vouch.toml` would otherwise turn the control into a silent `n/a`).
pub fn undefined_groups(
    controls: &[Control],
    inventory: &crate::inventory::Inventory,
    opts: &EngineOptions,
) -> Vec<String> {
    if !opts.targets_override.is_empty() {
        return Vec::new();
    }
    let mut by_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in controls {
        if let Targets::Group(g) = &c.targets
            && !inventory.targets.contains_key(g)
        {
            by_group.entry(g).or_default().push(&c.id);
        }
    }
    let defined: Vec<&str> = inventory.targets.keys().map(String::as_str).collect();
    by_group
        .into_iter()
        .map(|(g, ids)| {
            let hint = crate::diag::suggest(g, &defined)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            format!(
                "the inventory defines no target group `{g}`{hint}: {} not examined; define it \
                 under [targets] or deselect the control",
                ids.join(", ")
            )
        })
        .collect()
}

/// Marks the controls that examined nothing (every result `n/a`, none from the control's
/// `where`, no undefined group behind it, and the control does not say `allow_empty = true`).
/// Live runs and replays both pass through here, so the exit code sees the same rule.
pub fn mark_examined_nothing(report: &mut Report, controls: &[Control]) {
    for cr in &mut report.controls {
        // A skipped control examined nothing on purpose, with a reason on record.
        let allowed = cr.skipped.is_some()
            || controls
                .iter()
                .find(|c| c.id == cr.id)
                .is_some_and(|c| c.allow_empty || c.min_population == Some(0));
        let undefined_group = cr
            .results
            .iter()
            .any(|r| r.engine == Some(EngineRow::UndefinedGroup));
        cr.examined_nothing = !allowed
            && !undefined_group
            && !cr.results.is_empty()
            && cr
                .results
                .iter()
                .all(|r| r.verdict == Verdict::NotApplicable && r.engine.is_some());
    }
}

/// `max_age` enforced: a result judged after its `expires_at` (a replay with `--replay-at now`,
/// evidence older than the control allows) is `error` ("evidence stale"), whatever it was.
pub fn enforce_max_age(report: &mut Report, now: Timestamp) {
    for c in &mut report.controls {
        for r in &mut c.results {
            if let Some(expires_at) = r.expires_at
                && now > expires_at
                && r.verdict != Verdict::Error
            {
                r.error = Some(format!(
                    "evidence stale: it expired at {expires_at} (the control's max_age), judged at \
                     {now} (was {}); observe again",
                    r.verdict
                ));
                r.verdict = Verdict::Error;
            }
        }
    }
    report.summarise();
}
