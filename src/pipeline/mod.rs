//! The check pipeline: `vouch check` as a library call, one typed stage handing a plain value to
//! the next, data flowing one way (docs/architecture.md draws it):
//!
//! ```text
//! Plan::load(sources, inventory, options) ─> Plan
//!   .observe(ctx)        probes, or the replayed bundle     ─> Observed
//!   .evaluate(now)       checks, max_age, examined-nothing  ─> Evaluated
//!   .waive()             waivers, framework coverage        ─> Waived
//!   .gate()              --fail-on, --baseline/--fail-on-new ─> Outcome { report, code }
//! sink::bundle / sink::outputs write the finished report; nothing else writes.
//! ```
//!
//! Everything from outside that is not a file comes in through the [`Context`]: the clock, the
//! interrupt (Ctrl-C/SIGTERM), progress, and where notices (warnings, the signature line) go, so
//! tests drive the pipeline in-process with a fixed clock and no terminal. [`check`] runs the
//! stages in order; it is what the command line calls.

mod load;
pub mod sink;
pub mod spot;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use jiff::Timestamp;

use crate::control::{Control, Severity};
use crate::diag::Diagnostics;
use crate::engine::{self, EngineOptions, Interrupt, ProgressFn};
use crate::evidence::replay::{Recorded, ReplayAt};
use crate::exit;
use crate::inventory::Inventory;
use crate::probe::{ProbeContext, ProbeOptions, Registry};
use crate::report::{self, Report, SignatureCheck};
use crate::{diff, evidence, waiver};

pub use crate::engine::Clock;
pub use load::{WaiverSource, check_attestations, control_sources, read_report, registry_for};

/// What the run takes from its surroundings: the clock, the interrupt, progress and notices.
#[derive(Clone)]
pub struct Context {
    pub clock: Clock,
    pub progress: Option<ProgressFn>,
    /// Installed when observation starts (a live run only), so a signal before or after it
    /// keeps its default meaning.
    interrupt: Option<Arc<dyn Fn() -> Result<Interrupt> + Send + Sync>>,
    notices: Arc<Mutex<dyn FnMut(Notice) + Send>>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            clock: Clock::system(),
            progress: None,
            interrupt: None,
            notices: Arc::new(Mutex::new(|_: Notice| {})),
        }
    }
}

impl Context {
    /// The system clock, no interrupt, no progress, notices dropped.
    pub fn new() -> Context {
        Context::default()
    }

    pub fn with_clock(mut self, clock: Clock) -> Context {
        self.clock = clock;
        self
    }

    pub fn with_progress(mut self, progress: ProgressFn) -> Context {
        self.progress = Some(progress);
        self
    }

    /// `install` makes the interrupt future when a live run starts observing.
    pub fn with_interrupt(
        mut self,
        install: impl Fn() -> Result<Interrupt> + Send + Sync + 'static,
    ) -> Context {
        self.interrupt = Some(Arc::new(install));
        self
    }

    /// Where notices go (the command line prints them on stderr).
    pub fn with_notices(mut self, notices: impl FnMut(Notice) + Send + 'static) -> Context {
        self.notices = Arc::new(Mutex::new(notices));
        self
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn notify(&self, notice: Notice) {
        if let Ok(mut f) = self.notices.lock() {
            f(notice);
        }
    }
}

/// Something the run says on the side (the command line prints each on stderr).
pub enum Notice {
    /// Problems in the inputs that did not stop the run (loader warnings).
    Diagnostics(Diagnostics),
    /// What verifying a replayed bundle established about its signature.
    Signature {
        bundle: PathBuf,
        check: SignatureCheck,
    },
    /// `warning: …`
    Warning(String),
    /// A warning of the replayed run, `warning (recorded): …`.
    RecordedWarning(String),
    /// The evidence bundle was written.
    EvidenceWritten {
        bundle: PathBuf,
        files: usize,
        bytes: u64,
        signer: Option<String>,
    },
    /// A line of the drift against `--baseline`.
    Drift(String),
    /// Something done on the side, said as is (`--quiet` hides it).
    Info(String),
}

impl Notice {
    /// Informational: `--quiet` hides it (warnings and drift are always said).
    pub fn is_info(&self) -> bool {
        matches!(
            self,
            Notice::Signature { .. } | Notice::EvidenceWritten { .. } | Notice::Info(_)
        )
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use report::SignatureStatus;
        match self {
            Notice::Diagnostics(d) => write!(f, "{}", d.render(false)),
            Notice::Signature { bundle, check } => {
                let dir = bundle.display();
                match (check.status, &check.signer) {
                    (SignatureStatus::Verified, Some(fp)) => {
                        write!(f, "{dir}: signature verified, signed by {fp}")
                    }
                    (SignatureStatus::Unchecked, Some(fp)) => write!(
                        f,
                        "{dir}: digests verified; signed by {fp}, a key not given here \
                         (--allow-unsigned): who wrote it is not proven"
                    ),
                    (SignatureStatus::Unsigned, _) | (_, None) => write!(
                        f,
                        "{dir}: digests verified; NOT signed (--allow-unsigned): who wrote it is \
                         not proven"
                    ),
                }
            }
            Notice::Warning(w) => write!(f, "warning: {w}"),
            Notice::RecordedWarning(w) => write!(f, "warning (recorded): {w}"),
            Notice::EvidenceWritten {
                bundle,
                files,
                bytes,
                signer,
            } => write!(
                f,
                "evidence: {files} files, {bytes} bytes, {} in {}",
                match signer {
                    Some(fp) => format!("signed by {fp}"),
                    None => "unsigned".into(),
                },
                bundle.display()
            ),
            Notice::Drift(line) => write!(f, "{line}"),
            Notice::Info(line) => write!(f, "{line}"),
        }
    }
}

/// Why a check did not run: exit 2 in every case.
pub enum Refusal {
    /// The inputs have errors (each with file, line and column); nothing was checked.
    Invalid(Diagnostics),
    /// A flag asks for something that cannot be (an unknown control, an invalid target, …).
    Usage(String),
    /// A file could not be read or written (a key, the baseline, the bundle's destination).
    Error(anyhow::Error),
}

impl std::fmt::Debug for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notice({self})")
    }
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(d) => write!(f, "Invalid({})", d.render_short()),
            Refusal::Usage(m) => write!(f, "Usage({m})"),
            Refusal::Error(e) => write!(f, "Error({e:#})"),
        }
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Refusal {
        Refusal::Error(e)
    }
}

/// Where a check's controls and waivers come from.
#[derive(Debug, Default)]
pub struct Sources {
    /// Control files or folders; empty: the replayed bundle's own controls, else the built-in
    /// library.
    pub controls: Vec<PathBuf>,
    /// Replay this verified bundle instead of observing (`--from-evidence`).
    pub bundle: Option<Bundle>,
    /// `--waivers`: else, in a replay, the bundle's own; else the inventory's `waivers`.
    pub waivers: Option<PathBuf>,
}

/// A verified evidence bundle to replay, and when its clock-dependent checks are judged.
#[derive(Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub recorded: Recorded,
    pub at: ReplayAt,
}

impl Bundle {
    /// Verifies the bundle at `dir` as `trust` asks, loads it, and says what the signature check
    /// established ([`Notice::Signature`]).
    pub fn open(
        dir: PathBuf,
        trust: &evidence::Trust,
        at: ReplayAt,
        ctx: &Context,
    ) -> Result<Bundle> {
        let recorded = evidence::replay::load(&dir, trust)?;
        ctx.notify(Notice::Signature {
            bundle: dir.clone(),
            check: recorded.signature.clone(),
        });
        Ok(Bundle { dir, recorded, at })
    }
}

/// How a check runs and what it writes: the flags of `vouch check`, nothing from a file.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--only`: these control ids.
    pub only: Vec<String>,
    /// `--tag`: controls with one of these tags.
    pub tags: Vec<String>,
    /// `--target`: these targets instead of the controls' own.
    pub targets: Vec<String>,
    /// `--strict`: a warning stops the run (exit 2).
    pub strict: bool,
    /// Concurrency, per-host limit, timeout and `--fail-on` (its clock is the context's).
    pub engine: EngineOptions,
    /// Concurrent calls per cloud service.
    pub cloud_concurrency: usize,
    /// `--evidence-dir`: write the bundle here.
    pub evidence_dir: Option<PathBuf>,
    /// `--sign-key`: sign the bundle's MANIFEST with this key.
    pub sign_key: Option<PathBuf>,
    /// `--timestamp-url`: an RFC 3161 authority that countersigns the bundle's MANIFEST digest.
    pub timestamp_url: Option<String>,
    /// `--store`: file the run in this evidence store (else `[store] location`, unless
    /// `--evidence-dir` is given).
    pub store: Option<String>,
    /// `--notify`: after the run is stored, post what changed since the previous stored run.
    pub notify: Vec<String>,
    /// `--shard K/N`: run only the K-th of N slices of the plan (see [`crate::shard`]).
    pub shard: Option<(u32, u32)>,
    /// `--baseline`: a previous JSON report to compare with.
    pub baseline: Option<PathBuf>,
    /// `--fail-on-new`: only regressions against the baseline fail the run.
    pub fail_on_new: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            only: Vec::new(),
            tags: Vec::new(),
            targets: Vec::new(),
            strict: false,
            engine: EngineOptions::default(),
            cloud_concurrency: ProbeOptions::default().cloud_concurrency,
            evidence_dir: None,
            sign_key: None,
            timestamp_url: None,
            store: None,
            notify: Vec::new(),
            shard: None,
            baseline: None,
            fail_on_new: false,
        }
    }
}

/// What every stage hands on besides its own result: the controls, the waivers, the exit-code
/// policy and where the bundle goes, all loaded (and checked) before anything ran.
struct Carry {
    clock: Clock,
    controls: Vec<Control>,
    waivers: Vec<waiver::Waiver>,
    waiver_source: WaiverSource,
    policy: Policy,
    bundle_out: Option<BundleOut>,
    store_out: Option<StoreOut>,
}

/// The store a run is filed in (`--store`), with the key and inputs its bundle keeps.
struct StoreOut {
    /// Always `Some` until dropped (see the `Drop` impl).
    store: Option<crate::store::check::ForCheck>,
    key: Option<ed25519_dalek::SigningKey>,
    sources: Vec<crate::control::Source>,
    waivers: Option<Vec<u8>>,
}

impl Drop for StoreOut {
    /// An S3 store owns a runtime of its own, which must not be dropped on this run's async
    /// threads: it is dropped on a thread of its own, whenever the run ends.
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            let _ = std::thread::spawn(move || drop(store)).join();
        }
    }
}

/// What decides the exit code.
struct Policy {
    fail_on: Severity,
    baseline: Option<(PathBuf, Report)>,
    fail_on_new: bool,
}

/// The bundle a run writes: where, signed with which key, and the inputs it keeps.
struct BundleOut {
    dir: PathBuf,
    key: Option<ed25519_dalek::SigningKey>,
    /// The control sources as loaded (texts read once) and the waivers' bytes.
    sources: Vec<crate::control::Source>,
    waivers: Option<Vec<u8>>,
    /// `--timestamp-url`: asked after the bundle is written; a failure is a warning.
    timestamp_url: Option<String>,
}

/// Stage 1: everything loaded, validated and selected; nothing observed yet.
pub struct Plan {
    carry: Carry,
    registry: Registry,
    inventory: Inventory,
    bundle: Option<Bundle>,
    options: Options,
}

impl Plan {
    /// The controls that will be judged (after `--only`/`--tag`).
    pub fn controls(&self) -> &[Control] {
        &self.carry.controls
    }

    /// Stage 2: observe every planned target (probes, concurrently, bounded, timed), or, for a
    /// plan loaded from a bundle, take the bundle's recorded observations (no probe runs).
    pub async fn observe(self, ctx: &Context) -> Result<Observed> {
        let Plan {
            carry,
            registry,
            inventory,
            bundle,
            options,
        } = self;
        if let Some(bundle) = bundle {
            return Ok(Observed {
                carry,
                raw: Raw::Replay {
                    bundle: Box::new(bundle),
                    registry,
                    inventory: Box::new(inventory),
                },
            });
        }
        let probes = ProbeContext::new(
            Arc::new(inventory),
            ProbeOptions {
                timeout: options.engine.timeout,
                cloud_concurrency: options.cloud_concurrency.max(1),
                ..ProbeOptions::default()
            },
        );
        let opts = EngineOptions {
            targets_override: options.targets.clone(),
            clock: ctx.clock.clone(),
            ..options.engine.clone()
        };
        // Installed before discovery starts, kept until the run is over.
        let interrupt = match &ctx.interrupt {
            Some(install) => Some(install()?),
            None => None,
        };
        let observations = engine::observe(
            &carry.controls,
            &registry,
            &probes,
            &opts,
            ctx.progress.clone(),
            interrupt,
        )
        .await;
        Ok(Observed {
            carry,
            raw: Raw::Live(Box::new(observations)),
        })
    }
}

enum Raw {
    Live(Box<engine::Observations>),
    Replay {
        bundle: Box<Bundle>,
        registry: Registry,
        inventory: Box<Inventory>,
    },
}

/// Stage 2's result: what was observed (or recorded), not yet judged.
pub struct Observed {
    carry: Carry,
    raw: Raw,
}

impl Observed {
    /// Stage 3: judges every result at `now` (a replay at the original run's end unless it was
    /// asked for `now`), stamps each result's expiry, makes stale evidence `error` and marks the
    /// controls that examined nothing.
    pub fn evaluate(self, now: Timestamp) -> Evaluated {
        let Observed { carry, raw } = self;
        let (mut report, judged_at) = match raw {
            Raw::Live(observations) => (
                engine::evaluate_all(&carry.controls, *observations, now),
                now,
            ),
            Raw::Replay {
                bundle,
                registry,
                inventory,
            } => {
                let report = evidence::replay::replay_with(
                    &carry.controls,
                    &registry,
                    &inventory,
                    &bundle.recorded,
                    &bundle.dir,
                    bundle.at,
                    now,
                    &carry.clock,
                );
                let mut report = report;
                let at = match &mut report.run.replay {
                    Some(r) => {
                        r.waivers = Some(carry.waiver_source.source());
                        r.evaluated_at
                    }
                    None => now,
                };
                (report, at)
            }
        };
        evidence::stamp_expiry(&mut report, &carry.controls);
        engine::enforce_max_age(&mut report, judged_at);
        engine::mark_examined_nothing(&mut report, &carry.controls);
        Evaluated {
            carry,
            report,
            judged_at,
        }
    }
}

/// Stage 3's result: every result judged, no waiver applied yet.
pub struct Evaluated {
    carry: Carry,
    report: Report,
    judged_at: Timestamp,
}

impl Evaluated {
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Stage 4: applies the waivers valid on the day the results were judged, then records which
    /// framework criteria the (waived) results evidence.
    pub fn waive(self) -> Waived {
        let Evaluated {
            carry,
            mut report,
            judged_at,
        } = self;
        let today = judged_at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let applied = waiver::apply(&mut report, &carry.waivers, today);
        report.coverage = report::coverage::builtin(&carry.controls);
        report::coverage::mark_evidenced(&mut report.coverage, &report.controls);
        let mut notices = Vec::new();
        for w in &applied.expired {
            notices.push(Notice::Warning(format!(
                "the waiver of {} at {} expired on {}; it was ignored",
                w.control, w.location, w.expires
            )));
        }
        for w in &applied.unused {
            notices.push(Notice::Warning(format!(
                "the waiver of {} at {} covers no failing result; remove it or fix its targets",
                w.control, w.location
            )));
        }
        Waived {
            carry,
            report,
            notices,
        }
    }
}

/// Stage 4's result: the report as it will be written, but for where its bundle goes.
pub struct Waived {
    carry: Carry,
    report: Report,
    notices: Vec<Notice>,
}

impl Waived {
    /// What applying the waivers has to say (expired and unused waivers).
    pub fn notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Stage 5: the exit code ([`crate::exit`]) the report earns under `--fail-on` (or, with
    /// `--fail-on-new`, what regressed against the baseline), and the report's final form (the
    /// bundle it is written to).
    pub fn gate(self) -> Outcome {
        let Waived {
            carry, mut report, ..
        } = self;
        if let Some(out) = &carry.bundle_out {
            report.run.evidence = Some(report::EvidenceInfo {
                bundle: out.dir.display().to_string(),
                signer: out
                    .key
                    .as_ref()
                    .map(|k| evidence::sign::fingerprint(&k.verifying_key())),
            });
        }
        let policy = &carry.policy;
        let drift = policy
            .baseline
            .as_ref()
            .map(|(path, base)| (path.clone(), diff::compare(base, &report)));
        let code = match &drift {
            // Old failures do not fail the run; new ones do, and a run that proved less than it
            // should (errors, nothing examined, interrupted) still exits 3.
            Some((_, d)) if policy.fail_on_new => {
                if d.regressions_at(policy.fail_on) > 0 {
                    exit::FAILED
                } else {
                    unobserved_or_pass(&report)
                }
            }
            _ => outcome(&report, policy.fail_on),
        };
        Outcome {
            report,
            code,
            drift,
            bundle_out: carry.bundle_out,
            store_out: carry.store_out,
        }
    }
}

/// The finished run: the report every sink writes, and the exit code.
pub struct Outcome {
    pub report: Report,
    pub code: u8,
    /// The drift against `--baseline`, with the baseline's path.
    pub drift: Option<(PathBuf, diff::Drift)>,
    bundle_out: Option<BundleOut>,
    store_out: Option<StoreOut>,
}

impl Outcome {
    /// What the finished run has to say: the controls that examined nothing, and the drift.
    pub fn notices(&self) -> Vec<Notice> {
        let mut out: Vec<Notice> = self
            .report
            .empty_population_warnings()
            .into_iter()
            .map(Notice::Warning)
            .collect();
        if let Some((path, drift)) = &self.drift {
            out.push(Notice::Drift(format!(
                "drift against {}: {}",
                path.display(),
                drift.summary_line()
            )));
            for r in &drift.regressions {
                let v = |v: Option<crate::expect::Verdict>| v.map_or("—", |v| v.as_str());
                let target = if r.target.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", r.target)
                };
                out.push(Notice::Drift(format!(
                    "  regression: {}{target}: {} → {} ({})",
                    r.control,
                    v(r.old),
                    v(r.new),
                    r.reason
                )));
            }
        }
        out
    }
}

/// The exit code a report earns: 1 when something failed at or above `fail_on`, else 3 when
/// something could not be observed, a control examined nothing or the run was interrupted,
/// else 0.
pub fn outcome(report: &Report, fail_on: Severity) -> u8 {
    if report.failed_at(fail_on) {
        exit::FAILED
    } else {
        unobserved_or_pass(report)
    }
}

/// 3 when the report proves less than it should (an `error`, a control that examined nothing,
/// an interrupted run), else 0.
fn unobserved_or_pass(report: &Report) -> u8 {
    if report.has_errors() || !report.run.complete || report.examined_nothing().next().is_some() {
        exit::UNOBSERVED
    } else {
        exit::PASS
    }
}

/// `vouch check`: every stage in order, then the sinks (the bundle, then the report to `stdout`
/// and the output files); returns the exit code.
pub async fn check(
    sources: Sources,
    inventory: Inventory,
    diags: Diagnostics,
    options: Options,
    outputs: &sink::Outputs,
    ctx: &Context,
    stdout: &mut dyn std::io::Write,
) -> Result<u8, Refusal> {
    let plan = Plan::load(sources, inventory, diags, options, ctx).await?;
    let observed = plan.observe(ctx).await?;
    let mut waived = observed.evaluate(ctx.now()).waive();
    for n in waived.notices() {
        ctx.notify(n);
    }
    let mut outcome = waived.gate();
    sink::bundle(&outcome, ctx)?;
    sink::store(&mut outcome, ctx)?;
    sink::outputs(&outcome.report, outputs, stdout)?;
    for n in outcome.notices() {
        ctx.notify(n);
    }
    Ok(outcome.code)
}
