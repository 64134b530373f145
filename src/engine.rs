//! The engine: targets → discover → plan (dedupe) → observe (bounded, timed) → evaluate →
//! [`Report`]. [`run`] does it all; [`observe`] and [`evaluate_all`] are the two halves the
//! pipeline ([`crate::pipeline`]) calls as stages of its own, with its clock.
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
use tokio::sync::Semaphore;

use crate::control::{Control, Severity, Targets};
use crate::expect::{Check, Verdict};
use crate::probe::aws::{AccountScope, AccountSet, Route};
use crate::probe::{
    AccountRef, Observation, Params, ProbeContext, ProbeError, ProbeErrorKind, Registry, aws,
};
use crate::report::{
    ControlResult, EngineRow, ObservationStore, Report, Run, SCHEMA, Summary, TargetResult, Tool,
};

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
    /// Run only this slice of the plan (`--shard K/N`, see [`crate::shard`]).
    pub shard: Option<crate::report::ShardInfo>,
    /// The time `run.started_at`, `run.finished_at` and clock-dependent checks (`within`) read.
    pub clock: Clock,
}

/// Where a run reads the time: the system clock, or a fixed instant (tests, replays).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Timestamp::now))
    }

    /// Always `at`.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock(Arc::new(move || at))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: 32,
            per_host: 4,
            timeout: Duration::from_secs(10),
            targets_override: Vec::new(),
            fail_on: Severity::Low,
            clock: Clock::system(),
            shard: None,
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
    /// Observation is over (every planned observation made, or the run interrupted).
    Done,
}

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A future that resolves when the run should stop early (Ctrl-C).
pub type Interrupt = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One distinct observation to make.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ObsKey {
    probe: String,
    target: String,
    /// The AWS account it is made in, in a multi-account run: one name in two accounts is two
    /// observations, never one.
    account: Option<String>,
    /// Canonical JSON of the params (serde_json maps are sorted).
    params: String,
}

/// Where a control's target came from, and how to get its observation.
enum Planned {
    Observe(ObsKey),
    /// Discovery or group expansion gave a verdict of its own.
    Direct(Box<TargetResult>),
}

/// Runs `controls` and returns the report. The library entry point behind `vouch check`: the
/// four steps below, in order ([`crate::pipeline`] calls them as stages of its own).
pub async fn run(
    controls: &[Control],
    registry: &Registry,
    ctx: &ProbeContext,
    opts: &EngineOptions,
    progress: Option<ProgressFn>,
    interrupt: Option<Interrupt>,
) -> Report {
    let observed = observe(controls, registry, ctx, opts, progress, interrupt).await;
    let now = opts.clock.now();
    evaluate_all(controls, observed, now)
}

/// What [`observe`] hands on to [`evaluate_all`]: each control's planned rows, every distinct
/// observation's outcome, and what the run recorded about itself.
pub struct Observations {
    started_at: Timestamp,
    complete: bool,
    plans: Vec<Vec<PlannedRow>>,
    /// Each distinct observation's key in `store` and what evaluation reads of it (its facts
    /// the controls use; no evidence, no attachments), or why it could not be made.
    observed: HashMap<ObsKey, Result<(String, Observation), ProbeError>>,
    /// Every observation, spooled as it completed.
    store: ObservationStore,
    context: BTreeMap<String, serde_json::Value>,
    warnings: Vec<String>,
    fail_on: Severity,
    clock: Clock,
    shard: Option<crate::report::ShardInfo>,
}

/// Plans, discovers and observes: [`targets`] → [`discover`] → [`plan`] → [`observe_planned`].
/// An interrupt during discovery or observation stops the run; what was not observed becomes an
/// `error` row when evaluated.
pub async fn observe(
    controls: &[Control],
    registry: &Registry,
    ctx: &ProbeContext,
    opts: &EngineOptions,
    progress: Option<ProgressFn>,
    interrupt: Option<Interrupt>,
) -> Observations {
    let started_at = opts.clock.now();
    let mut interrupt = interrupt.unwrap_or_else(|| Box::pin(futures::future::pending()));
    // Tell the probes which facts the controls read, so costly unread facts cost nothing.
    let used = facts_used(controls);
    let ctx = &ctx.with_facts_used(used.clone());
    // A skipped control is not observed, nor are its patterns discovered.
    let expanded: Vec<Vec<String>> = controls
        .iter()
        .map(|c| match c.skip {
            Some(_) => Vec::new(),
            None => targets_of(c, ctx, opts),
        })
        .collect();
    let scoped = Scoped::resolve(controls, registry, ctx).await;
    let (discovered, mut complete) =
        discover(controls, &expanded, registry, &scoped, opts, &mut interrupt).await;
    let (plans, keys) = plan(controls, &expanded, &discovered, registry, &scoped, opts);
    if let Some(p) = &progress {
        p(Progress::Planned(keys.len()));
    }
    let mut observed = HashMap::new();
    let mut store = ObservationStore::new();
    if complete {
        complete = observe_planned(
            keys,
            registry,
            &scoped,
            opts,
            progress.clone(),
            &mut interrupt,
            &mut Recorder {
                used: &used,
                observed: &mut observed,
                store: &mut store,
            },
        )
        .await;
    }
    if let Some(p) = &progress {
        p(Progress::Done);
    }
    Observations {
        started_at,
        complete,
        plans,
        observed,
        store,
        context: ctx.run_info(),
        warnings: undefined_groups(controls, &ctx.inventory, opts),
        fail_on: opts.fail_on,
        clock: opts.clock.clone(),
        shard: opts.shard.clone(),
    }
}

/// The accounts of a multi-account run (`[aws] accounts`, `[aws.organization]`), resolved once
/// before discovery, and the run's context: each AWS `*` and `account` target is discovered and
/// observed once per account, each in its own account's session.
struct Scoped {
    ctx: ProbeContext,
    accounts: Option<Result<Arc<AccountSet>, ProbeError>>,
    scopes: HashMap<String, Arc<AccountScope>>,
}

impl Scoped {
    async fn resolve(controls: &[Control], registry: &Registry, ctx: &ProbeContext) -> Scoped {
        let accounts = if controls.iter().any(|c| aws::is_aws_kind(&c.probe)) {
            registry.aws_accounts(ctx).await
        } else {
            None
        };
        let scopes = match &accounts {
            Some(Ok(set)) => set
                .scanned
                .iter()
                .map(|a| (a.id.clone(), Arc::new(a.clone())))
                .collect(),
            _ => HashMap::new(),
        };
        Scoped {
            ctx: ctx.clone(),
            accounts,
            scopes,
        }
    }

    /// The context a (probe, target) of `account` is examined in.
    fn ctx_in(&self, account: &Option<String>) -> ProbeContext {
        match account.as_ref().and_then(|a| self.scopes.get(a)) {
            Some(scope) => self.ctx.for_account(scope.clone()),
            None => self.ctx.clone(),
        }
    }
}

/// Discovery: expands every pattern target (`*`) once per (probe, pattern, account),
/// concurrently. Returns what each found and whether it ran to the end (`false`: interrupted).
async fn discover(
    controls: &[Control],
    expanded: &[Vec<String>],
    registry: &Registry,
    scoped: &Scoped,
    opts: &EngineOptions,
    interrupt: &mut Interrupt,
) -> (Discovered, bool) {
    let mut patterns: Vec<(String, String, Option<String>)> = Vec::new();
    for (c, targets) in controls.iter().zip(expanded) {
        let Some(probe) = registry.get(&c.probe) else {
            continue;
        };
        for t in targets {
            if !probe.is_pattern(t) {
                continue;
            }
            let in_accounts: Vec<Option<String>> =
                match account_route(&c.probe, t, true, &scoped.accounts) {
                    Ok(list) => list.into_iter().map(|a| a.map(|a| a.id.clone())).collect(),
                    Err(_) => Vec::new(),
                };
            for account in in_accounts {
                // Discovered only in the slice that owns the pattern in this account.
                if !owns_in(opts, &c.probe, t, account.as_deref()) {
                    continue;
                }
                let key = (c.probe.clone(), t.clone(), account);
                if !patterns.contains(&key) {
                    patterns.push(key);
                }
            }
        }
    }
    let mut discovery =
        futures::stream::iter(patterns.into_iter().map(|(kind, pattern, account)| {
            let probe = registry.get(&kind).expect("validated probe");
            let ctx = scoped.ctx_in(&account);
            let timeout = opts.timeout;
            async move {
                let res = match tokio::time::timeout(timeout, probe.discover(&pattern, &ctx)).await
                {
                    Ok(r) => r,
                    Err(_) => Err(ProbeError::timeout(timeout)),
                };
                ((kind, pattern, account), res)
            }
        }))
        .buffer_unordered(opts.concurrency.max(1));
    // A signal during discovery stops the run too: what was not discovered is not observed.
    let mut discovered: Discovered = HashMap::new();
    loop {
        tokio::select! {
            next = discovery.next() => match next {
                Some((key, res)) => { discovered.insert(key, res); }
                None => return (discovered, true),
            },
            _ = &mut *interrupt => return (discovered, false),
        }
    }
}

/// (probe, pattern, account) → the targets discovery found, or why it could not.
type Discovered = HashMap<(String, String, Option<String>), Result<Vec<String>, ProbeError>>;

/// A control's planned row: its target, the account it is examined in (multi-account runs),
/// and how its result is had.
type PlannedRow = (String, Option<AccountRef>, Planned);

/// Plan: every control × target (× account) becomes an observation key or a direct result (an
/// undefined or empty group, a population too small, a discovery error, a pattern the interrupt
/// left undiscovered, an account the run does not examine). Identical observations are planned
/// once: the second list is every distinct key.
fn plan(
    controls: &[Control],
    expanded: &[Vec<String>],
    discovered: &Discovered,
    registry: &Registry,
    scoped: &Scoped,
    opts: &EngineOptions,
) -> (Vec<Vec<PlannedRow>>, Vec<ObsKey>) {
    let mut plans: Vec<Vec<PlannedRow>> = Vec::with_capacity(controls.len());
    let mut keys: Vec<ObsKey> = Vec::new();
    let mut planned: std::collections::HashSet<ObsKey> = std::collections::HashSet::new();
    for (c, targets) in controls.iter().zip(expanded) {
        let mut plan = Vec::new();
        if let Some(row) = skipped_row(c) {
            // One shard says it (its row is keyed like any other target).
            if owns(opts, &c.probe, &row.0) {
                plan.push(row);
            }
            plans.push(plan);
            continue;
        }
        if targets.is_empty() && owns(opts, &c.probe, &format!("({})", group_name(c))) {
            plan.push((
                format!("({})", group_name(c)),
                None,
                Planned::Direct(Box::new(no_targets(c, &scoped.ctx))),
            ));
        }
        let params = serde_json::to_string(&c.params).unwrap_or_default();
        let is_pattern = |t: &str| registry.get(&c.probe).is_some_and(|p| p.is_pattern(t));
        for t in targets {
            // Expanded per account first, then sliced: each (probe, target, account) row is
            // keyed by its account, so an account's rows stay in one slice and different
            // accounts spread over the slices (a `*` population stays whole per account).
            let scopes = match account_route(&c.probe, t, is_pattern(t), &scoped.accounts) {
                Ok(scopes) => scopes,
                Err(row) => {
                    // Another shard's slice: its rows are that shard's.
                    if owns(opts, &c.probe, t) {
                        plan.push((t.clone(), None, Planned::Direct(row)));
                    }
                    continue;
                }
            };
            for scope in scopes {
                let account_id = scope.as_ref().map(|a| a.id.clone());
                if !owns_in(opts, &c.probe, t, account_id.as_deref()) {
                    continue;
                }
                let account = scope.as_deref().map(AccountRef::from);
                let concrete: Vec<String> = if is_pattern(t) {
                    let found = discovered.get(&(c.probe.clone(), t.clone(), account_id.clone()));
                    let (found, direct) = pattern_rows(c, found);
                    if let Some(row) = direct {
                        plan.push((t.clone(), account.clone(), Planned::Direct(Box::new(row))));
                    }
                    found
                } else {
                    vec![t.clone()]
                };
                for target in concrete {
                    let key = ObsKey {
                        probe: c.probe.clone(),
                        target: target.clone(),
                        account: account_id.clone(),
                        params: params.clone(),
                    };
                    if planned.insert(key.clone()) {
                        keys.push(key.clone());
                    }
                    plan.push((target, account.clone(), Planned::Observe(key)));
                }
            }
        }
        plans.push(plan);
    }
    (plans, keys)
}

/// The row of a control whose target group is undefined or empty (or whose list is empty).
fn no_targets(c: &Control, ctx: &ProbeContext) -> TargetResult {
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
    row
}

/// What a pattern's discovery gives a control: the concrete targets to observe, and a row of its
/// own when the population is too small, discovery failed, or the run was interrupted first.
fn pattern_rows(
    c: &Control,
    discovered: Option<&Result<Vec<String>, ProbeError>>,
) -> (Vec<String>, Option<TargetResult>) {
    match discovered {
        Some(Ok(found)) => {
            let too_few = match c.min_population {
                Some(min) => (found.len() as u64) < min,
                None => found.is_empty(),
            };
            let row = (too_few || found.is_empty())
                .then(|| population_result(found.len(), c.min_population));
            (found.clone(), row)
        }
        Some(Err(e)) => {
            let mut row = error_result(e);
            row.engine = Some(EngineRow::Discovery);
            (Vec::new(), Some(row))
        }
        None => {
            // Interrupted before this pattern was discovered.
            let mut row = direct(
                Verdict::Error,
                "the run was interrupted before this pattern was discovered".into(),
                None,
            );
            row.engine = Some(EngineRow::Interrupted);
            (Vec::new(), Some(row))
        }
    }
}

/// Observe: each distinct key once, bounded globally and per host, each under a timeout. Returns
/// whether every key was observed (`false`: interrupted).
async fn observe_planned(
    keys: Vec<ObsKey>,
    registry: &Registry,
    scoped: &Scoped,
    opts: &EngineOptions,
    progress: Option<ProgressFn>,
    interrupt: &mut Interrupt,
    recorder: &mut Recorder<'_>,
) -> bool {
    let host_limits: Arc<std::sync::Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
    let mut stream = futures::stream::iter(keys.into_iter().map(|key| {
        let probe = registry.get(&key.probe).expect("validated probe");
        let ctx = scoped.ctx_in(&key.account);
        let host_limits = host_limits.clone();
        let per_host = opts.per_host.max(1);
        let timeout = opts.timeout;
        let progress = progress.clone();
        async move {
            let host = match &key.account {
                Some(a) => format!("{a}|{}", probe.host_key(&key.target)),
                None => probe.host_key(&key.target),
            };
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
                    obs.account = ctx.account.as_deref().map(AccountRef::from);
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
    loop {
        tokio::select! {
            next = stream.next() => match next {
                Some((key, res)) => recorder.record(key, res),
                None => return true,
            },
            _ = &mut *interrupt => return false,
        }
    }
}

/// Where each observation goes as it completes: its body to the spool (the report's
/// [`ObservationStore`]), what evaluation reads of it to `observed`. Memory holds no evidence.
struct Recorder<'a> {
    used: &'a BTreeMap<String, std::collections::BTreeSet<String>>,
    observed: &'a mut HashMap<ObsKey, Result<(String, Observation), ProbeError>>,
    store: &'a mut ObservationStore,
}

impl Recorder<'_> {
    fn record(&mut self, key: ObsKey, res: Result<Observation, ProbeError>) {
        let res = res.and_then(|obs| match self.store.insert(&obs) {
            Ok(id) => Ok((id, slim(obs, self.used.get(&key.probe)))),
            // Observed but not kept: the result cannot be vouched for.
            Err(e) => Err(ProbeError::new(
                ProbeErrorKind::Other,
                format!("the observation could not be kept: {e}"),
            )),
        });
        self.observed.insert(key, res);
    }
}

/// What evaluation reads of an observation: its head, the facts the controls use and why
/// those were not observed. Evidence and attachments stay in the spool.
fn slim(mut obs: Observation, used: Option<&std::collections::BTreeSet<String>>) -> Observation {
    obs.evidence = serde_json::Map::new();
    obs.attachments = Vec::new();
    obs.params = serde_json::Map::new();
    let keep = |k: &String| used.is_some_and(|u| u.contains(k));
    obs.facts.retain(|k, _| keep(k));
    obs.unobserved.retain(|k, _| keep(k));
    obs
}

/// Evaluate: judges every planned row at `now` and assembles the [`Report`] (results in a stable
/// order: control id, then target; `finished_at` read from the run's clock afterwards).
pub fn evaluate_all(controls: &[Control], run: Observations, now: Timestamp) -> Report {
    let observed = run.observed;
    let mut results = Vec::with_capacity(controls.len());
    for (c, plan) in controls.iter().zip(run.plans) {
        let mut rs: Vec<TargetResult> = plan
            .into_iter()
            .map(|(target, account, planned)| {
                let mut r = match planned {
                    Planned::Direct(r) => *r,
                    Planned::Observe(key) => match observed.get(&key) {
                        Some(Ok((id, obs))) => evaluate(c, obs, Some(id.clone()), now),
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
                r.account = account;
                r
            })
            .collect();
        rs.sort_by(|a, b| (&a.account, &a.target).cmp(&(&b.account, &b.target)));
        results.push(control_result(c, rs));
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let mut report = Report {
        schema: SCHEMA.into(),
        tool: Tool::default(),
        run: Run {
            started_at: run.started_at,
            finished_at: run.clock.now(),
            complete: run.complete,
            fail_on: run.fail_on,
            context: run.context,
            evidence: None,
            replay: None,
            warnings: run.warnings,
            shard: run.shard,
            merge: None,
        },
        summary: Summary::default(),
        controls: results,
        observations: run.store,
        coverage: Vec::new(),
        unused_waivers: Vec::new(),
    };
    report.summarise();
    report
}

/// A control's result before its verdict is summarised (see [`Report::summarise`]).
pub fn control_result(c: &Control, results: Vec<TargetResult>) -> ControlResult {
    ControlResult {
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
        source: Some(crate::report::ControlSource::of(&c.origin)),
        skipped: c.skip.clone(),
        results,
    }
}

/// The accounts target `t` of probe `kind` is planned in: `[None]` (the run's own credentials)
/// outside a multi-account run, for a non-AWS probe, or for a plain resource name; every
/// scanned account for `*` and `account`; the named one for an account id or ARN. An
/// organisation that could not be listed, or a named account the run does not examine, is
/// the row's error.
fn account_route(
    kind: &str,
    t: &str,
    is_pattern: bool,
    accounts: &Option<Result<Arc<AccountSet>, ProbeError>>,
) -> Result<Vec<Option<Arc<AccountScope>>>, Box<TargetResult>> {
    if !aws::is_aws_kind(kind) {
        return Ok(vec![None]);
    }
    let set = match accounts {
        None => return Ok(vec![None]),
        Some(Err(e)) => {
            let mut row = error_result(e);
            row.engine = Some(EngineRow::Discovery);
            return Err(Box::new(row));
        }
        Some(Ok(set)) => set,
    };
    match aws::route(t, is_pattern) {
        Route::Own => Ok(vec![None]),
        Route::Each => Ok(set
            .scanned
            .iter()
            .map(|a| Some(Arc::new(a.clone())))
            .collect()),
        Route::Named(id) => match set.get(&id) {
            Some(a) => Ok(vec![Some(Arc::new(a.clone()))]),
            None => {
                let why = match set.skipped.iter().find(|s| s.id == id) {
                    Some(s) => format!("account {id} is skipped by this run: {}", s.reason),
                    None => format!("account {id} is not among the accounts this run examines"),
                };
                let mut row = direct(
                    Verdict::Error,
                    why,
                    Some("add it to [aws] accounts, or to the organisation's scope".into()),
                );
                row.engine = Some(EngineRow::Discovery);
                Err(Box::new(row))
            }
        },
    }
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

/// The concrete target strings of a control (before pattern discovery).
fn targets_of(c: &Control, ctx: &ProbeContext, opts: &EngineOptions) -> Vec<String> {
    if !opts.targets_override.is_empty() {
        return opts.targets_override.clone();
    }
    match &c.targets {
        Targets::List(l) => l.clone(),
        Targets::Group(g) => ctx.inventory.targets.get(g).cloned().unwrap_or_default(),
    }
}

/// Whether this run's shard (if any) owns `(probe, target)`.
fn owns(opts: &EngineOptions, probe: &str, target: &str) -> bool {
    owns_in(opts, probe, target, None)
}

/// Whether this run's shard (if any) owns `(probe, target)` examined in `account`: each
/// account's rows of a multi-account run go to that account's slice.
fn owns_in(opts: &EngineOptions, probe: &str, target: &str, account: Option<&str>) -> bool {
    opts.shard
        .as_ref()
        .is_none_or(|s| crate::slice::slice_in(probe, target, account, s.count) == s.index)
}

fn group_name(c: &Control) -> String {
    match &c.targets {
        Targets::Group(g) => g.clone(),
        Targets::List(_) => "targets".into(),
    }
}

pub use crate::bundle::observation_id;

/// The one `n/a` row of a control an `[[override]]` skipped, named after its targets.
fn skipped_row(c: &Control) -> Option<PlannedRow> {
    skipped_result(c).map(|(t, r)| (t, None, Planned::Direct(Box::new(r))))
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
        account: None,
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
        account: None,
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
        account: obs.account.clone(),
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
