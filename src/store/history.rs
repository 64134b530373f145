//! `vouch history`: how each control operated over a period, from the verdicts recorded in the
//! store's verified bundles (never re-evaluated), and `vouch history --at T`: the run an
//! auditor's sample asks for. Reports are read one at a time, in start order; only a small
//! accumulator per control × target is kept. The JSON form (`schema = "vouch.history/v1"`) is
//! documented in `docs/report-schema.md`.

use std::collections::BTreeMap;

use anyhow::Result;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{LedgerEntry, Store, Window};
use crate::evidence::Trust;
use crate::expect::{Verdict, format_duration};
use crate::report::{AppliedWaiver, Severity};

pub const SCHEMA: &str = "vouch.history/v1";
pub const SAMPLE_SCHEMA: &str = "vouch.sample/v1";
/// The longest interval between two runs that is not a gap, unless `--expect-every` says
/// otherwise (a result's own `expires_at`, from its control's `max_age`, also bounds it).
pub const DEFAULT_EXPECT_EVERY: u64 = 86_400;

/// What `vouch history` covers and judges by.
#[derive(Clone, Debug)]
pub struct HistoryOptions {
    pub window: Window,
    /// Only these control ids (empty: all).
    pub controls: Vec<String>,
    /// Only these targets (empty: all).
    pub targets: Vec<String>,
    /// Seconds: evidence further apart than this is a gap.
    pub expect_every: u64,
    /// Seconds: an exception longer than this makes the period not effective.
    pub max_exception: u64,
    /// The end of an open window (`--to` in the future, or none): now.
    pub now: Timestamp,
}

/// The slice of a stored report history reads (everything else in report.json is skipped).
#[derive(Deserialize)]
struct SlimReport {
    run: SlimRun,
    controls: Vec<SlimControl>,
}

#[derive(Deserialize)]
struct SlimRun {
    started_at: Timestamp,
}

#[derive(Deserialize)]
struct SlimControl {
    id: String,
    title: String,
    severity: Severity,
    results: Vec<SlimResult>,
}

#[derive(Deserialize)]
struct SlimResult {
    target: String,
    verdict: Verdict,
    #[serde(default)]
    waiver: Option<AppliedWaiver>,
    #[serde(default)]
    expires_at: Option<Timestamp>,
}

/// The period report.
#[derive(Clone, Debug, Serialize)]
pub struct History {
    pub schema: &'static str,
    pub store: String,
    /// The period: `--from` (else the first run) to the end of `--to` (else now, and never past now).
    pub from: Timestamp,
    pub to: Timestamp,
    /// Runs in the period whose bundles verified and were read.
    pub runs: usize,
    pub expect_every: String,
    pub max_exception: String,
    /// Runs in the period that could not be used (a bundle that does not verify, a broken
    /// chain): each makes the command exit 1, and its time counts as no evidence.
    pub problems: Vec<String>,
    pub rows: Vec<Row>,
}

/// One control on one target over the period.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub control: String,
    pub title: String,
    pub severity: Severity,
    pub target: String,
    /// Runs in the period that had a result for this control and target.
    pub runs: usize,
    pub verdicts: BTreeMap<String, usize>,
    /// Passing runs / runs with a verdict other than `n/a` (0 when there are none).
    pub pass_share: f64,
    pub first_run: Option<Timestamp>,
    pub last_run: Option<Timestamp>,
    pub exceptions: Vec<Exception>,
    /// The longest exception (an open one counts as far as the period's end).
    pub longest_to_remediate: Option<String>,
    pub longest_to_remediate_seconds: Option<u64>,
    pub gaps: Vec<Gap>,
    pub waivers: Vec<WaiverInForce>,
    /// `effective` (operated effectively: evidence throughout, no exception longer than
    /// `--max-exception`), `not_effective`, or `no_evidence` (no run judged it).
    pub period_verdict: PeriodVerdict,
    /// Why the verdict is not `effective`.
    pub reasons: Vec<String>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PeriodVerdict {
    Effective,
    NotEffective,
    NoEvidence,
}

impl PeriodVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodVerdict::Effective => "effective",
            PeriodVerdict::NotEffective => "not_effective",
            PeriodVerdict::NoEvidence => "no_evidence",
        }
    }
}

/// From the first failing run (`fail`, or `waived`: a failure accepted) to the first passing
/// run after it; `open` when no run passed before the period's end, which is then its `to`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Exception {
    pub from: Timestamp,
    pub to: Timestamp,
    pub duration: String,
    pub duration_seconds: u64,
    pub open: bool,
    /// Failing (or waived) runs in the exception.
    pub failing_runs: usize,
}

/// A stretch with no evidence for longer than `--expect-every` (or past a result's
/// `expires_at`): between two runs that judged the result, or at the period's ends.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Gap {
    pub from: Timestamp,
    pub to: Timestamp,
    pub duration: String,
    pub duration_seconds: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WaiverInForce {
    pub reason: String,
    pub owner: String,
    pub approved_by: String,
    pub ticket: Option<String>,
    pub expires: jiff::civil::Date,
    pub first_applied: Timestamp,
    pub last_applied: Timestamp,
    pub runs: usize,
}

#[derive(Default)]
struct Acc {
    title: String,
    severity: Option<Severity>,
    runs: usize,
    verdicts: BTreeMap<String, usize>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// The last run that judged the result (pass/fail/waived), and its `expires_at`.
    last_evidence: Option<(Timestamp, Option<Timestamp>)>,
    open: Option<(Timestamp, usize)>,
    exceptions: Vec<Exception>,
    gaps: Vec<Gap>,
    waivers: Vec<WaiverInForce>,
}

fn span(from: Timestamp, to: Timestamp) -> (String, u64) {
    let secs = (to.as_second() - from.as_second()).max(0) as u64;
    (format_duration(secs), secs)
}

fn gap(from: Timestamp, to: Timestamp) -> Gap {
    let (duration, duration_seconds) = span(from, to);
    Gap {
        from,
        to,
        duration,
        duration_seconds,
    }
}

impl Acc {
    /// Whether evidence at `from` (expiring at `expires`) still covers `to`.
    fn covered(from: Timestamp, expires: Option<Timestamp>, to: Timestamp, every: u64) -> bool {
        let within_every = to.as_second() - from.as_second() <= every as i64;
        within_every && expires.is_none_or(|e| to <= e)
    }

    fn add(&mut self, t: Timestamp, r: &SlimResult, period_start: Timestamp, every: u64) {
        self.runs += 1;
        *self.verdicts.entry(r.verdict.as_str().into()).or_default() += 1;
        self.first.get_or_insert(t);
        self.last = Some(t);
        if let Some(w) = &r.waiver {
            match self.waivers.iter_mut().find(|x| {
                x.reason == w.reason
                    && x.owner == w.owner
                    && x.expires == w.expires
                    && x.ticket == w.ticket
                    && x.approved_by == w.approved_by
            }) {
                Some(x) => {
                    x.last_applied = t;
                    x.runs += 1;
                }
                None => self.waivers.push(WaiverInForce {
                    reason: w.reason.clone(),
                    owner: w.owner.clone(),
                    approved_by: w.approved_by.clone(),
                    ticket: w.ticket.clone(),
                    expires: w.expires,
                    first_applied: t,
                    last_applied: t,
                    runs: 1,
                }),
            }
        }
        let judged = matches!(r.verdict, Verdict::Pass | Verdict::Fail | Verdict::Waived);
        if !judged {
            // `error` and `n/a` prove nothing either way: no evidence, no exception change.
            return;
        }
        match self.last_evidence {
            Some((prev, expires)) if !Self::covered(prev, expires, t, every) => {
                self.gaps.push(gap(prev, t));
            }
            None if t.as_second() - period_start.as_second() > every as i64 => {
                self.gaps.push(gap(period_start, t));
            }
            _ => {}
        }
        self.last_evidence = Some((t, r.expires_at));
        match r.verdict {
            Verdict::Pass => {
                if let Some((from, failing_runs)) = self.open.take() {
                    let (duration, duration_seconds) = span(from, t);
                    self.exceptions.push(Exception {
                        from,
                        to: t,
                        duration,
                        duration_seconds,
                        open: false,
                        failing_runs,
                    });
                }
            }
            _ => match &mut self.open {
                Some((_, n)) => *n += 1,
                None => self.open = Some((t, 1)),
            },
        }
    }

    fn finish(mut self, key: (String, String), h: &HistoryOptions, end: Timestamp) -> Row {
        if let Some((from, failing_runs)) = self.open.take() {
            let (duration, duration_seconds) = span(from, end);
            self.exceptions.push(Exception {
                from,
                to: end,
                duration,
                duration_seconds,
                open: true,
                failing_runs,
            });
        }
        if let Some((prev, expires)) = self.last_evidence
            && !Self::covered(prev, expires, end, h.expect_every)
        {
            self.gaps.push(gap(prev, end));
        }
        let judged: usize = self
            .verdicts
            .iter()
            .filter(|(v, _)| v.as_str() != "n/a")
            .map(|(_, n)| n)
            .sum();
        let pass = self.verdicts.get("pass").copied().unwrap_or(0);
        let longest = self.exceptions.iter().map(|e| e.duration_seconds).max();
        let mut reasons = Vec::new();
        let evidence = self.last_evidence.is_some();
        if !evidence {
            reasons.push(if self.runs == 0 {
                "no run in the period judged it".to_string()
            } else {
                format!(
                    "none of its {} runs judged it (only error or n/a): no evidence",
                    self.runs
                )
            });
        }
        for e in &self.exceptions {
            if e.duration_seconds > h.max_exception {
                reasons.push(format!(
                    "exception from {} {} ({}) is longer than --max-exception {}",
                    e.from,
                    if e.open {
                        "still open at the period's end".to_string()
                    } else {
                        format!("to {}", e.to)
                    },
                    e.duration,
                    format_duration(h.max_exception)
                ));
            }
        }
        for g in &self.gaps {
            reasons.push(format!(
                "no evidence from {} to {} ({})",
                g.from, g.to, g.duration
            ));
        }
        let period_verdict = if !evidence {
            PeriodVerdict::NoEvidence
        } else if reasons.is_empty() {
            PeriodVerdict::Effective
        } else {
            PeriodVerdict::NotEffective
        };
        Row {
            control: key.0,
            title: self.title,
            severity: self.severity.unwrap_or(Severity::Info),
            target: key.1,
            runs: self.runs,
            verdicts: self.verdicts,
            pass_share: if judged == 0 {
                0.0
            } else {
                pass as f64 / judged as f64
            },
            first_run: self.first,
            last_run: self.last,
            exceptions: self.exceptions,
            longest_to_remediate: longest.map(format_duration),
            longest_to_remediate_seconds: longest,
            gaps: self.gaps,
            waivers: self.waivers,
            period_verdict,
            reasons,
        }
    }
}

/// The verified entries of the chain whose run started in `window`, in start order, with the
/// chain's problems.
fn entries_in(store: &Store, window: &Window) -> Result<(Vec<LedgerEntry>, Vec<String>)> {
    let (entries, problems) = store.check_chain()?;
    let mut list: Vec<LedgerEntry> = entries
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| window.contains(e.started_at))
        .collect();
    list.sort_by_key(|a| (a.started_at, a.seq));
    Ok((list, problems))
}

/// Verifies each entry's bundle (on a second thread, at most two ahead) and hands the results to
/// `f` in order: hashing the next bundle overlaps reading this one's verdicts, and no more than
/// three reports are in memory at once.
fn for_each_checked(
    store: &Store,
    trust: &Trust,
    entries: &[LedgerEntry],
    mut f: impl FnMut(&LedgerEntry, super::CheckedRun),
) -> Result<()> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        s.spawn(move || {
            for e in entries {
                let checked = store.check_run(e, trust, true);
                let stop = checked.is_err();
                if tx.send(checked).is_err() || stop {
                    return;
                }
            }
        });
        for e in entries {
            let checked = rx
                .recv()
                .map_err(|_| anyhow::anyhow!("the verifying thread stopped"))??;
            f(e, checked);
        }
        Ok(())
    })
}

/// Builds the period report: every run in the window, in start order, each bundle verified
/// against `trust` and its recorded verdicts read, one report at a time.
pub fn history(store: &Store, trust: &Trust, opts: &HistoryOptions) -> Result<History> {
    let (entries, mut problems) = entries_in(store, &opts.window)?;
    let start = opts
        .window
        .start()
        .or_else(|| entries.first().map(|e| e.started_at))
        .unwrap_or(opts.now);
    let end = opts
        .window
        .end()
        .map_or(opts.now, |e| e.min(opts.now))
        .max(start);
    let mut rows: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut runs = 0;
    for_each_checked(store, trust, &entries, |e, checked| {
        problems.extend(checked.problems);
        let Some(bytes) = checked.report else {
            return;
        };
        let report: SlimReport = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(err) => {
                problems.push(format!(
                    "{}: report.json is not a vouch report: {err}",
                    store.describe(&e.bundle)
                ));
                return;
            }
        };
        drop(bytes);
        if let Some(p) = store.start_mismatch(e, report.run.started_at) {
            problems.push(p);
            return;
        }
        runs += 1;
        let t = report.run.started_at;
        for c in report.controls {
            if !opts.controls.is_empty() && !opts.controls.contains(&c.id) {
                continue;
            }
            for r in c.results {
                if !opts.targets.is_empty() && !opts.targets.contains(&r.target) {
                    continue;
                }
                let acc = rows.entry((c.id.clone(), r.target.clone())).or_default();
                if acc.title.is_empty() {
                    acc.title = c.title.clone();
                }
                acc.severity = Some(c.severity);
                acc.add(t, &r, start, opts.expect_every);
            }
        }
    })?;
    Ok(History {
        schema: SCHEMA,
        store: store.location.to_string(),
        from: start,
        to: end,
        runs,
        expect_every: format_duration(opts.expect_every),
        max_exception: format_duration(opts.max_exception),
        problems,
        rows: rows
            .into_iter()
            .map(|(k, acc)| acc.finish(k, opts, end))
            .collect(),
    })
}

impl History {
    /// 0 when every row operated effectively and every run verified; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.problems.is_empty()
            && self
                .rows
                .iter()
                .all(|r| r.period_verdict == PeriodVerdict::Effective)
            && !self.rows.is_empty()
        {
            crate::exit::PASS
        } else {
            crate::exit::FAILED
        }
    }
}

/// `vouch history --at T`.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub schema: &'static str,
    pub store: String,
    pub at: Timestamp,
    pub rows: Vec<SampleRow>,
    /// Runs at or before `at` that did not verify (their verdicts were not used).
    pub problems: Vec<String>,
}

/// The newest verified run at or before the sampled moment, for one control and target.
#[derive(Clone, Debug, Serialize)]
pub struct SampleRow {
    pub control: String,
    pub target: String,
    pub severity: Severity,
    pub verdict: Verdict,
    pub run_id: String,
    pub started_at: Timestamp,
    /// Where the bundle is (`LOCATION/runs/…`).
    pub bundle: String,
    /// SHA-256 of the bundle's MANIFEST (as the ledger records it, and as it was re-checked).
    pub manifest_sha256: String,
    /// What re-verifying the bundle now established about its signature.
    pub signature: String,
    pub signer: Option<String>,
}

/// For each control × target, the newest run at or before `at` (bundles verified now, newest
/// first; a run that does not verify is reported and passed over).
pub fn sample(
    store: &Store,
    trust: &Trust,
    at: Timestamp,
    opts: &HistoryOptions,
) -> Result<Sample> {
    let (mut entries, mut problems) = entries_in(store, &Window::default())?;
    entries.retain(|e| e.started_at <= at);
    entries.reverse();
    let mut rows: BTreeMap<(String, String), SampleRow> = BTreeMap::new();
    for e in &entries {
        let checked = store.check_run(e, trust, true)?;
        problems.extend(checked.problems);
        let (Some(bytes), Some(v)) = (checked.report, checked.verification) else {
            continue;
        };
        let report: SlimReport = serde_json::from_slice(&bytes)?;
        if let Some(p) = store.start_mismatch(e, report.run.started_at) {
            problems.push(p);
            continue;
        }
        let sig = v.signature.as_ref();
        for c in report.controls {
            if !opts.controls.is_empty() && !opts.controls.contains(&c.id) {
                continue;
            }
            for r in c.results {
                if !opts.targets.is_empty() && !opts.targets.contains(&r.target) {
                    continue;
                }
                rows.entry((c.id.clone(), r.target.clone()))
                    .or_insert_with(|| SampleRow {
                        control: c.id.clone(),
                        target: r.target.clone(),
                        severity: c.severity,
                        verdict: r.verdict,
                        run_id: e.run_id.clone(),
                        started_at: e.started_at,
                        bundle: store.describe(&e.bundle),
                        manifest_sha256: e.manifest_sha256.clone(),
                        signature: sig.map_or("unknown", |s| s.status.as_str()).to_string(),
                        signer: sig.and_then(|s| s.signer.clone()),
                    });
            }
        }
    }
    Ok(Sample {
        schema: SAMPLE_SCHEMA,
        store: store.location.to_string(),
        at,
        rows: rows.into_values().collect(),
        problems,
    })
}

/// `vouch history` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    Table,
    Json,
    Csv,
    Markdown,
    Html,
    Oscal,
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn day(t: Timestamp) -> String {
    t.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%MZ")
        .to_string()
}

impl History {
    pub fn render(&self, format: HistoryFormat) -> Result<String> {
        Ok(match format {
            HistoryFormat::Json => {
                let mut s = serde_json::to_string_pretty(self)?;
                s.push('\n');
                s
            }
            HistoryFormat::Table => self.table(),
            HistoryFormat::Csv => self.csv()?,
            HistoryFormat::Markdown => self.markdown(),
            HistoryFormat::Html => self.html(),
            HistoryFormat::Oscal => self.oscal()?,
        })
    }

    fn header(&self) -> String {
        format!(
            "{} runs from {} to {} in {} (gap: no evidence for more than {}; exception \
             threshold {})",
            self.runs,
            day(self.from),
            day(self.to),
            self.store,
            self.expect_every,
            self.max_exception
        )
    }

    fn table(&self) -> String {
        let mut out = format!("{}\n\n", self.header());
        out.push_str(&format!(
            "{:<28} {:<32} {:>5} {:>7} {:>4} {:>10} {:>4}  {}\n",
            "CONTROL", "TARGET", "RUNS", "PASS", "EXC", "LONGEST", "GAPS", "PERIOD"
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "{:<28} {:<32} {:>5} {:>7} {:>4} {:>10} {:>4}  {}\n",
                r.control,
                r.target,
                r.runs,
                pct(r.pass_share),
                r.exceptions.len(),
                r.longest_to_remediate.as_deref().unwrap_or("-"),
                r.gaps.len(),
                r.period_verdict.as_str()
            ));
            for e in &r.exceptions {
                out.push_str(&format!(
                    "    exception {} → {} ({}{})\n",
                    day(e.from),
                    day(e.to),
                    e.duration,
                    if e.open {
                        ", open at the period's end"
                    } else {
                        ""
                    }
                ));
            }
            for g in &r.gaps {
                out.push_str(&format!(
                    "    gap       {} → {} ({})\n",
                    day(g.from),
                    day(g.to),
                    g.duration
                ));
            }
            for w in &r.waivers {
                out.push_str(&format!(
                    "    waiver    {} (owner {}, expires {})\n",
                    w.reason, w.owner, w.expires
                ));
            }
        }
        for p in &self.problems {
            out.push_str(&format!("problem: {p}\n"));
        }
        out
    }

    fn csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "control",
            "target",
            "severity",
            "runs",
            "pass_share",
            "exceptions",
            "open_exception",
            "longest_to_remediate_seconds",
            "gaps",
            "waivers",
            "period_verdict",
            "reasons",
        ])?;
        for r in &self.rows {
            w.write_record([
                r.control.clone(),
                r.target.clone(),
                r.severity.as_str().to_string(),
                r.runs.to_string(),
                format!("{:.4}", r.pass_share),
                r.exceptions.len().to_string(),
                r.exceptions.iter().any(|e| e.open).to_string(),
                r.longest_to_remediate_seconds
                    .map_or(String::new(), |s| s.to_string()),
                r.gaps.len().to_string(),
                r.waivers.len().to_string(),
                r.period_verdict.as_str().to_string(),
                r.reasons.join("; "),
            ])?;
        }
        Ok(String::from_utf8(w.into_inner()?)?)
    }

    fn markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("## Evidence over the audit period\n\n{}\n\n", self.header());
        out.push_str(
            "| Control | Target | Runs | Pass | Exceptions | Longest | Gaps | Period |\n\
             |---|---|---:|---:|---:|---:|---:|---|\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                cell(&r.control),
                cell(&r.target),
                r.runs,
                pct(r.pass_share),
                r.exceptions.len(),
                r.longest_to_remediate.as_deref().unwrap_or("—"),
                r.gaps.len(),
                r.period_verdict.as_str()
            ));
        }
        let notes: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| {
                r.reasons.iter().map(move |x| {
                    format!("- `{}` on `{}`: {}", r.control, cell(&r.target), cell(x))
                })
            })
            .collect();
        if !notes.is_empty() {
            out.push_str("\n### Why not effective\n\n");
            out.push_str(&notes.join("\n"));
            out.push('\n');
        }
        for p in &self.problems {
            out.push_str(&format!("\n**Problem:** {}\n", cell(p)));
        }
        out
    }

    /// One inline-SVG timeline per control (a lane per target): green where evidence covers
    /// the period, red over exceptions, grey over gaps. No script; the same CSP as the report.
    fn html(&self) -> String {
        use crate::report::html::escape;
        let total = (self.to.as_second() - self.from.as_second()).max(1) as f64;
        let x = |t: Timestamp| -> f64 {
            ((t.as_second() - self.from.as_second()) as f64 / total * 1000.0).clamp(0.0, 1000.0)
        };
        let mut out = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
             <title>vouch history</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:24px}\
             table{border-collapse:collapse}td,th{border:1px solid #d1d9e0;padding:4px 8px;text-align:left}\
             .effective{color:#1a7f37}.not_effective,.no_evidence{color:#cf222e}svg{width:100%;height:auto}</style>\n</head>\n<body>\n",
        );
        out.push_str(&format!(
            "<h1>Evidence over the audit period</h1>\n<p>{}</p>\n",
            escape(&self.header())
        ));
        for p in &self.problems {
            out.push_str(&format!(
                "<p class=\"no_evidence\">Problem: {}</p>\n",
                escape(p)
            ));
        }
        let mut by_control: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            by_control.entry(&r.control).or_default().push(r);
        }
        for (control, rows) in by_control {
            out.push_str(&format!(
                "<h2>{} <small>{}</small></h2>\n",
                escape(control),
                escape(&rows[0].title)
            ));
            let h = 22 * rows.len() + 4;
            out.push_str(&format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 {h}\" role=\"img\" \
                 aria-label=\"timeline of {}\">\n",
                escape(control)
            ));
            for (i, r) in rows.iter().enumerate() {
                let y = 2 + 22 * i;
                if let (Some(first), Some(_)) = (r.first_run, r.last_run) {
                    out.push_str(&format!(
                        "<rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"#2da44e\"><title>{}</title></rect>\n",
                        x(first),
                        (x(self.to) - x(first)).max(0.5),
                        escape(&format!("{}: {} runs, {} passing", r.target, r.runs, pct(r.pass_share)))
                    ));
                }
                for g in &r.gaps {
                    out.push_str(&format!(
                        "<rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"#8c959f\"><title>{}</title></rect>\n",
                        x(g.from),
                        (x(g.to) - x(g.from)).max(0.5),
                        escape(&format!("{}: no evidence {} → {} ({})", r.target, day(g.from), day(g.to), g.duration))
                    ));
                }
                for e in &r.exceptions {
                    out.push_str(&format!(
                        "<rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"#cf222e\"><title>{}</title></rect>\n",
                        x(e.from),
                        (x(e.to) - x(e.from)).max(0.5),
                        escape(&format!("{}: exception {} → {} ({}{})", r.target, day(e.from), day(e.to), e.duration, if e.open { ", open" } else { "" }))
                    ));
                }
            }
            out.push_str("</svg>\n<table>\n<tr><th>Target</th><th>Runs</th><th>Pass</th><th>Exceptions</th><th>Longest</th><th>Gaps</th><th>Waivers</th><th>Period</th></tr>\n");
            for r in rows {
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>\n",
                    escape(&r.target),
                    r.runs,
                    pct(r.pass_share),
                    r.exceptions.len(),
                    escape(r.longest_to_remediate.as_deref().unwrap_or("—")),
                    r.gaps.len(),
                    r.waivers.len(),
                    r.period_verdict.as_str(),
                    r.period_verdict.as_str()
                ));
            }
            out.push_str("</table>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    /// OSCAL assessment-results: one result whose `start`/`end` are the period, a finding per
    /// control × target (satisfied only when it operated effectively).
    fn oscal(&self) -> Result<String> {
        use serde_json::json;
        use sha2::{Digest, Sha256};
        let seed = Sha256::digest(serde_json::to_vec(self)?);
        let uuid = |parts: &[&str]| {
            let mut h = Sha256::new();
            h.update(seed);
            for p in parts {
                h.update((p.len() as u64).to_be_bytes());
                h.update(p.as_bytes());
            }
            let d = h.finalize();
            let mut b = [0u8; 16];
            b.copy_from_slice(&d[..16]);
            b[6] = (b[6] & 0x0f) | 0x50;
            b[8] = (b[8] & 0x3f) | 0x80;
            let x = hex::encode(b);
            format!(
                "{}-{}-{}-{}-{}",
                &x[0..8],
                &x[8..12],
                &x[12..16],
                &x[16..20],
                &x[20..32]
            )
        };
        let ts = |t: Timestamp| t.to_string();
        let findings: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let satisfied = r.period_verdict == PeriodVerdict::Effective;
                let mut desc = format!(
                    "{} on {}: {} runs, {} passing, {} exceptions, {} gaps: {}.",
                    r.control,
                    r.target,
                    r.runs,
                    pct(r.pass_share),
                    r.exceptions.len(),
                    r.gaps.len(),
                    r.period_verdict.as_str()
                );
                if !r.reasons.is_empty() {
                    desc.push(' ');
                    desc.push_str(&r.reasons.join("; "));
                }
                json!({
                    "uuid": uuid(&["finding", &r.control, &r.target]),
                    "title": format!("{} on {}", r.control, r.target),
                    "description": desc,
                    "target": {
                        "type": "objective-id",
                        "target-id": r.control,
                        "status": {
                            "state": if satisfied { "satisfied" } else { "not-satisfied" },
                            "reason": r.period_verdict.as_str(),
                        },
                    },
                })
            })
            .collect();
        let mut result = json!({
            "uuid": uuid(&["result"]),
            "title": "vouch history",
            "description": self.header(),
            "start": ts(self.from),
            "end": ts(self.to),
            "reviewed-controls": { "control-selections": [ { "include-all": {} } ] },
        });
        if !findings.is_empty() {
            result["findings"] = json!(findings);
        }
        if !self.problems.is_empty() {
            result["remarks"] = json!(self.problems.join("\n"));
        }
        let doc = json!({ "assessment-results": {
            "uuid": uuid(&["document"]),
            "metadata": {
                "title": "vouch assessment results over the audit period",
                "last-modified": ts(self.to),
                "version": format!("vouch {}", env!("CARGO_PKG_VERSION")),
                "oscal-version": "1.2.3",
            },
            "import-ap": {
                "href": format!("#{}", uuid(&["plan"])),
                "remarks": "vouch has no separate assessment plan: the stored runs' controls are the plan.",
            },
            "results": [result],
        }});
        let mut out = serde_json::to_string_pretty(&crate::report::canonical_json(doc))?;
        out.push('\n');
        Ok(out)
    }
}

impl Sample {
    pub fn exit_code(&self) -> u8 {
        if self.problems.is_empty() && !self.rows.is_empty() {
            crate::exit::PASS
        } else {
            crate::exit::FAILED
        }
    }

    pub fn render(&self, format: HistoryFormat) -> Result<String> {
        Ok(match format {
            HistoryFormat::Json | HistoryFormat::Oscal => {
                let mut s = serde_json::to_string_pretty(self)?;
                s.push('\n');
                s
            }
            HistoryFormat::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record([
                    "control",
                    "target",
                    "verdict",
                    "run_id",
                    "started_at",
                    "bundle",
                    "manifest_sha256",
                    "signature",
                ])?;
                for r in &self.rows {
                    w.write_record([
                        &r.control,
                        &r.target,
                        r.verdict.as_str(),
                        &r.run_id,
                        &r.started_at.to_string(),
                        &r.bundle,
                        &r.manifest_sha256,
                        &r.signature,
                    ])?;
                }
                String::from_utf8(w.into_inner()?)?
            }
            _ => {
                let mut out = format!("sample at {} from {}\n\n", self.at, self.store);
                for r in &self.rows {
                    out.push_str(&format!(
                        "{:<28} {:<32} {:<7} run {} ({}) {} MANIFEST sha256 {} signature {}\n",
                        r.control,
                        r.target,
                        r.verdict.as_str(),
                        r.run_id,
                        r.started_at,
                        r.bundle,
                        r.manifest_sha256,
                        r.signature
                    ));
                }
                for p in &self.problems {
                    out.push_str(&format!("problem: {p}\n"));
                }
                out
            }
        })
    }
}
