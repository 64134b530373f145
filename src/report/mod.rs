//! The [`Report`]: the one value a run produces (`schema = "vouch.report/v1"`, documented field by
//! field in `docs/report-schema.md`), and one renderer per output format. Renderers only read the
//! report; none of them talks to probes or the engine.

pub mod catalog;
pub mod coverage;
pub mod csv;
pub mod deviations;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod ocsf;
pub mod oscal;
pub mod sarif;
pub mod store;
pub mod table;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::control::{Require, Severity};

use crate::expect::{Check, Verdict};
pub use crate::probe::AccountRef;
use crate::probe::Observation;
pub use store::ObservationStore;

pub const SCHEMA: &str = "vouch.report/v1";

/// Everything a run found, in a stable order (control id, then target).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    pub tool: Tool,
    pub run: Run,
    pub summary: Summary,
    pub controls: Vec<ControlResult>,
    /// Observation key (`sha256:` + digest of the observation's JSON) → observation; the bodies
    /// are spooled to disk and read back one at a time ([`store`]).
    pub observations: ObservationStore,
    /// Per framework: which controls of this run evidence each criterion, and which criteria
    /// none does. Filled by the CLI from `controls/frameworks/*.toml` ([`coverage`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<coverage::Coverage>,
    /// Waivers that covered nothing in this run (stale), or that had expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused_waivers: Vec<UnusedWaiver>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "vouch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// `false` when the run was interrupted (Ctrl-C): what was observed is kept, the rest is not.
    pub complete: bool,
    /// The `--fail-on` threshold the exit code used.
    pub fail_on: Severity,
    /// Run-level facts recorded by probes (e.g. `aws.caller_identity`: which account was examined).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, serde_json::Value>,
    /// Set when the report was re-evaluated from an evidence bundle (`--from-evidence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    /// Problems that did not stop the run but may hide something (an inventory group a control
    /// names that the inventory does not define); also printed on stderr. `--strict` makes any
    /// of them exit 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Set when the run wrote an evidence bundle (`--evidence-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceInfo>,
    /// Set when the run covered one slice of the plan (`check --shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Set when the report was made by `vouch merge` from the reports of a sharded run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeInfo>,
}

/// What a run was asked to do, by digest: two runs with the same plan digest judged the same
/// controls (the same files, the same selection) against the same inventory, with the same
/// waivers and `--fail-on`. Shards of one run share it; `vouch merge` refuses any other mix.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plan {
    /// `sha256:<hex>` of the three digests below and `--fail-on` (see `crate::shard::plan`).
    pub digest: String,
    /// `sha256:<hex>` of the control files as loaded (their bundle paths and SHA-256s, in load
    /// order), the selected control ids (`--only`, `--tag`) and `--target` overrides.
    pub controls: String,
    /// `sha256:<hex>` of the effective inventory (the file with the flags applied).
    pub inventory: String,
    /// `sha256:<hex>` of the waivers file's bytes; `null` without waivers.
    pub waivers: Option<String>,
}

/// One slice of a sharded run (`check --shard K/N`, `--shard-from-env`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardInfo {
    /// K: which slice, 1-based (`JOB_COMPLETION_INDEX` + 1 with `--shard-from-env`).
    pub index: u32,
    /// N: how many slices the plan was split into.
    pub count: u32,
    pub plan: Plan,
}

/// Where a merged report came from (`vouch merge`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MergeInfo {
    /// The plan every shard ran.
    pub plan: Plan,
    /// The shards merged, by index.
    pub shards: Vec<MergedShard>,
}

/// One input of `vouch merge`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MergedShard {
    pub index: u32,
    pub count: u32,
    /// The bundle folder or report file, as given.
    pub source: String,
    /// `sha256:<hex>` of the shard's `report.json` bytes.
    pub report_sha256: String,
    /// `sha256:<hex>` of the bundle's `MANIFEST`; `null` for a report file.
    pub manifest_sha256: Option<String>,
    /// What verifying the input established about its signature.
    pub signature: SignatureCheck,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Whether the shard ran to its end (not interrupted).
    pub complete: bool,
    /// How many observations it recorded.
    pub observations: usize,
}

/// The evidence bundle a run wrote.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvidenceInfo {
    /// The bundle directory, as given.
    pub bundle: String,
    /// The fingerprint (`SHA256:<hex>`) of the key that signed its MANIFEST; `null` when unsigned.
    /// A claim until `vouch verify --signer` checks it.
    pub signer: Option<String>,
}

/// What `vouch verify` (or a replay's verification) established about a bundle's signature.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SignatureCheck {
    pub status: SignatureStatus,
    /// The fingerprint of the key the signature was checked with, when signed.
    pub signer: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Signed, and the signature holds for the key given (`--public-key`) or pinned (`--signer`).
    Verified,
    /// Signed, but checked with no key the verifier trusts (`--allow-unsigned`): the digests
    /// hold, nothing proves who wrote them.
    Unchecked,
    /// Not signed; accepted only with `--allow-unsigned`.
    Unsigned,
}

impl SignatureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::Verified => "verified",
            SignatureStatus::Unchecked => "unchecked",
            SignatureStatus::Unsigned => "unsigned",
        }
    }
}

/// Where a replayed report's observations came from, and the time its checks were judged at.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Replay {
    /// The bundle directory, as given.
    pub bundle: String,
    pub original_started_at: Timestamp,
    pub original_finished_at: Timestamp,
    /// The "now" of `within` checks and waiver expiry (the original run's end unless asked).
    pub evaluated_at: Timestamp,
    /// What verifying the bundle established about its signature. Absent only in reports of
    /// versions before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureCheck>,
    /// Where the waivers applied in the replay came from: `bundle` (the run's own, from
    /// `inputs/waivers.toml`), `file:<path>` (`--waivers`) or `none`. Never the working folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivers: Option<String>,
}

pub use crate::probe::{CONTEXT_AWS_ENDPOINT, CONTEXT_CA_FILE, CONTEXT_RESOLVE};

impl Report {
    /// One line per setting that pointed the run at something other than what the names say (an
    /// AWS endpoint override, names resolved by the inventory, extra trust roots), for every
    /// format's header: a bundle made against an emulator or a look-alike estate says so.
    pub fn context_notes(&self) -> Vec<String> {
        let ctx = &self.run.context;
        let mut notes = Vec::new();
        if let Some(v) = ctx.get(CONTEXT_AWS_ENDPOINT) {
            let mut parts = Vec::new();
            if let Some(url) = v["url"].as_str() {
                parts.push(format!(
                    "{url} ({})",
                    v["source"].as_str().unwrap_or("configured")
                ));
            }
            if let Some(services) = v["services"].as_object() {
                for (var, url) in services {
                    parts.push(format!("{} ({var})", url.as_str().unwrap_or("?")));
                }
            }
            notes.push(format!(
                "AWS endpoint overridden: {}; not AWS's own endpoints",
                parts.join(", ")
            ));
        }
        if let Some(map) = ctx.get(CONTEXT_RESOLVE).and_then(|v| v.as_object())
            && !map.is_empty()
        {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k} -> {}", v.as_str().unwrap_or("?")))
                .collect();
            notes.push(format!(
                "Names resolved by the inventory, not DNS: {}",
                pairs.join(", ")
            ));
        }
        if let Some(v) = ctx.get(CONTEXT_CA_FILE) {
            notes.push(format!(
                "Extra TLS trust roots: {} (SHA-256 {})",
                v["path"].as_str().unwrap_or("?"),
                v["sha256"].as_str().unwrap_or("unread")
            ));
        }
        if let Some(v) = ctx.get(crate::probe::aws::CONTEXT_ACCOUNTS) {
            let n = v["scanned"].as_array().map_or(0, Vec::len);
            let from: Vec<&str> = v["from"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
                .unwrap_or_default();
            let skipped: Vec<String> = v["skipped"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| {
                            format!(
                                "{} ({})",
                                s["id"].as_str().unwrap_or("?"),
                                s["reason"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            notes.push(format!(
                "AWS accounts examined: {n} (from {}){}",
                from.join(" and "),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; skipped: {}", skipped.join(", "))
                }
            ));
        }
        notes.extend(self.account_lines());
        notes
    }

    /// One line per thing the run could not vouch for beyond its verdicts: each `run.warnings[]`
    /// entry and each control that examined nothing. The table, Markdown and HTML headers show
    /// them, so a reader of those formats sees what stderr said.
    pub fn warning_notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.run.warnings.clone();
        for c in self.examined_nothing() {
            notes.push(format!(
                "{} examined nothing (no target found): it proves nothing, and the run exits 3",
                c.id
            ));
        }
        notes
    }
}

/// Counts of controls by verdict, plus results (control × target) by verdict.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub controls: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub waived: usize,
    #[serde(rename = "n/a")]
    pub not_applicable: usize,
    pub results: ResultCounts,
    /// Results by AWS account, when more than one account was scanned (in account id order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountSummary>,
}

/// One account's results (control × target rows of that account).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AccountSummary {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub results: ResultCounts,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ResultCounts {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub waived: usize,
    #[serde(rename = "n/a")]
    pub not_applicable: usize,
}

/// One control and its result on every target it covered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ControlResult {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claim: String,
    pub severity: Severity,
    pub probe: String,
    #[serde(default)]
    pub frameworks: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// The worst of its results: fail > error > waived > pass > n/a; with `require = "any"`,
    /// `pass` when one result passes.
    pub verdict: Verdict,
    /// The control examined nothing: every result is `n/a` and none of them comes from its
    /// `where` (an empty `*` population, an empty group), and it does not say `allow_empty`.
    /// Such a control is not green: it makes the exit code 3.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub examined_nothing: bool,
    /// `any` when one passing target satisfies the control (omitted for the default `all`).
    #[serde(default, skip_serializing_if = "Require::is_all")]
    pub require: Require,
    /// With `require = "any"`: the targets that passed, and so satisfied the control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub satisfied_by: Vec<String>,
    /// Where the control is defined (SARIF's physical location). Absent in reports made before it
    /// was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ControlSource>,
    /// Set when an `[[override]]` skipped the control (`skip = true`): its one result is `n/a`
    /// with this reason, owner and place; nothing was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<crate::control::Skip>,
    pub results: Vec<TargetResult>,
}

/// A control's definition site: its file and the 1-based line of its `[[control]]` header.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ControlSource {
    /// `/`-separated; relative to the run's working directory when the file lies under it,
    /// otherwise as given. Built-in controls: `controls/<file>.toml`, the path of the file in the
    /// repository (and where `vouch controls export controls/` writes it).
    pub file: String,
    pub line: u32,
}

impl ControlSource {
    pub fn of(origin: &crate::control::Origin) -> ControlSource {
        let mut path = origin.path.clone();
        if path.is_absolute()
            && let Ok(cwd) = std::env::current_dir()
            && let Ok(rel) = path.strip_prefix(&cwd)
        {
            path = rel.to_path_buf();
        }
        let parts: Vec<String> = path
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| match c {
                std::path::Component::RootDir => String::new(),
                other => other.as_os_str().to_string_lossy().into_owned(),
            })
            .collect();
        ControlSource {
            file: parts.join("/"),
            line: origin.line.max(1),
        }
    }
}

impl ControlResult {
    /// Recomputes `verdict` (and `satisfied_by`) from the results.
    pub fn aggregate(&mut self) {
        self.satisfied_by.clear();
        if self.require == Require::Any {
            self.satisfied_by = self
                .results
                .iter()
                .filter(|r| r.verdict == Verdict::Pass)
                .map(|r| r.target.clone())
                .collect();
            if !self.satisfied_by.is_empty() {
                self.verdict = Verdict::Pass;
                return;
            }
        }
        self.verdict = Verdict::worst(self.results.iter().map(|r| r.verdict));
    }

    /// With `require = "any"`, what a reader needs beside one target's own result: that it
    /// satisfied the control, or which target did (so its own fail does not count).
    pub fn any_note(&self, r: &TargetResult) -> Option<String> {
        if self.require != Require::Any {
            return None;
        }
        Some(if r.verdict == Verdict::Pass {
            "satisfies the control (require = \"any\")".to_string()
        } else if self.satisfied_by.is_empty() {
            "require = \"any\": no target satisfies the control".to_string()
        } else {
            format!(
                "require = \"any\": control satisfied by {}",
                self.satisfied_by.join(", ")
            )
        })
    }

    /// Whether a result's fail or error counts against the run (exit code, CI failures): always
    /// under `require = "all"`; under `"any"` only while no target satisfies the control.
    pub fn gates(&self) -> bool {
        self.require == Require::All || self.satisfied_by.is_empty()
    }
}

/// One control on one target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetResult {
    pub target: String,
    /// The AWS account of the target, in a multi-account run (`[aws] accounts`,
    /// `[aws.organization]`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
    pub verdict: Verdict,
    /// Key into [`Report::observations`]; `None` when nothing could be observed.
    pub observation: Option<String>,
    pub checks: Vec<Check>,
    /// Why the target could not be observed, or why it is `n/a`.
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The waiver that turned a fail or error into `waived`, with the original verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<AppliedWaiver>,
    /// When the evidence behind this result goes stale: `observed_at` + the control's `max_age`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Set when the engine made this row itself, without a probe observing the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineRow>,
}

impl TargetResult {
    /// The target, followed by its account in a multi-account run (`logs-bucket @
    /// 111122223333`): one name in two accounts is two rows, never one.
    pub fn labelled_target(&self) -> String {
        match &self.account {
            Some(a) => format!("{} @ {}", self.target, a.id),
            None => self.target.clone(),
        }
    }
}

/// Why the engine made a result row itself. A waiver never covers such a row unless it names the
/// row's target exactly (waivers accept failures, not blindness).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineRow {
    /// Discovery of a `*` target failed (denied, timed out).
    Discovery,
    /// Discovery found fewer resources than the control's `min_population` (or none), or the
    /// control's group is empty.
    Population,
    /// The control names an inventory group the inventory does not define (also a warning).
    UndefinedGroup,
    /// The run was interrupted before the target was observed.
    Interrupted,
    /// An `[[override]]` skipped the control (`skip = true` with a reason): `n/a`, not observed.
    Skipped,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AppliedWaiver {
    pub original_verdict: Verdict,
    pub reason: String,
    pub owner: String,
    pub approved_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expires: jiff::civil::Date,
}

/// A waiver that did not apply: it matched no `fail` or `error` (`status = "unused"`), or it had
/// expired (`status = "expired"`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UnusedWaiver {
    pub control: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    pub status: String,
    pub reason: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub expires: jiff::civil::Date,
}

impl Report {
    /// Recomputes the summary and every control's verdict from the results.
    pub fn summarise(&mut self) {
        let mut s = Summary {
            controls: self.controls.len(),
            ..Summary::default()
        };
        for c in &mut self.controls {
            c.aggregate();
            bump(
                &mut s.pass,
                &mut s.fail,
                &mut s.error,
                &mut s.waived,
                &mut s.not_applicable,
                c.verdict,
            );
            for r in &c.results {
                if let Some(a) = &r.account {
                    let i = match s.accounts.iter().position(|x| x.id == a.id) {
                        Some(i) => i,
                        None => {
                            s.accounts.push(AccountSummary {
                                id: a.id.clone(),
                                name: a.name.clone(),
                                results: ResultCounts::default(),
                            });
                            s.accounts.len() - 1
                        }
                    };
                    let ac = &mut s.accounts[i].results;
                    ac.total += 1;
                    bump(
                        &mut ac.pass,
                        &mut ac.fail,
                        &mut ac.error,
                        &mut ac.waived,
                        &mut ac.not_applicable,
                        r.verdict,
                    );
                }
                s.results.total += 1;
                let rc = &mut s.results;
                bump(
                    &mut rc.pass,
                    &mut rc.fail,
                    &mut rc.error,
                    &mut rc.waived,
                    &mut rc.not_applicable,
                    r.verdict,
                );
            }
        }
        if s.accounts.len() < 2 {
            s.accounts.clear();
        }
        s.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        self.summary = s;
    }

    /// Whether results span more than one AWS account: renderers then group by account.
    pub fn multi_account(&self) -> bool {
        !self.summary.accounts.is_empty()
    }

    /// One line per account (`111122223333 (prod): 40 results: 38 pass, 1 fail, 1 error`), for
    /// the table, Markdown and HTML headers of a multi-account run.
    pub fn account_lines(&self) -> Vec<String> {
        self.summary
            .accounts
            .iter()
            .map(|a| {
                let r = &a.results;
                let label = AccountRef {
                    id: a.id.clone(),
                    name: a.name.clone(),
                }
                .label();
                format!(
                    "account {label}: {} results: {} pass, {} fail, {} error, {} waived, {} n/a",
                    r.total, r.pass, r.fail, r.error, r.waived, r.not_applicable
                )
            })
            .collect()
    }

    /// Whether any result at or above `threshold` failed.
    pub fn failed_at(&self, threshold: Severity) -> bool {
        self.controls
            .iter()
            .filter(|c| c.severity >= threshold && c.gates())
            .any(|c| c.results.iter().any(|r| r.verdict == Verdict::Fail))
    }

    /// The controls that examined nothing (see [`ControlResult::examined_nothing`]).
    pub fn examined_nothing(&self) -> impl Iterator<Item = &ControlResult> {
        self.controls.iter().filter(|c| c.examined_nothing)
    }

    /// The warning a run (or a merge of shards) gives for each control that examined nothing.
    pub fn empty_population_warnings(&self) -> Vec<String> {
        self.examined_nothing()
            .map(|c| {
                format!(
                    "{} examined nothing (no resource found); say `allow_empty = true` if that \
                     is expected",
                    c.id
                )
            })
            .collect()
    }

    /// Whether any result could not be observed.
    pub fn has_errors(&self) -> bool {
        self.controls
            .iter()
            .filter(|c| c.gates())
            .any(|c| c.results.iter().any(|r| r.verdict == Verdict::Error))
    }

    /// The observation behind a result, read back from the store.
    pub fn observation(&self, result: &TargetResult) -> Option<Observation> {
        result
            .observation
            .as_ref()
            .and_then(|k| self.observations.get(k))
    }
}

fn bump(
    pass: &mut usize,
    fail: &mut usize,
    error: &mut usize,
    waived: &mut usize,
    na: &mut usize,
    v: Verdict,
) {
    match v {
        Verdict::Pass => *pass += 1,
        Verdict::Fail => *fail += 1,
        Verdict::Error => *error += 1,
        Verdict::Waived => *waived += 1,
        Verdict::NotApplicable => *na += 1,
    }
}

/// Output formats. Adding one is a variant, a module and a match arm in [`render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// JUnit XML: one testcase per control × target.
    Junit,
    /// GitHub-flavoured Markdown that fits a pull-request comment.
    Markdown,
    /// One self-contained HTML file.
    Html,
    /// One row per control × target.
    Csv,
    /// SARIF 2.1.0: rules are controls, results are failures and errors.
    Sarif,
    /// NIST OSCAL assessment-results (JSON).
    Oscal,
    /// OCSF Compliance Findings (class 2003) as JSON Lines: one per control × target.
    Ocsf,
}

/// How a renderer should draw (table only; the data formats ignore it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
    /// Terminal width, when known.
    pub width: Option<u16>,
}

/// Renders a report in `format`.
pub fn render(report: &Report, format: Format, style: Style) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => table::render(report, style),
        Format::Json => json::render(report)?,
        Format::Junit => junit::render(report)?,
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Csv => csv::render(report)?,
        Format::Sarif => sarif::render(report)?,
        Format::Oscal => oscal::render(report)?,
        Format::Ocsf => ocsf::render(report)?,
    })
}

/// Writes the report in `format` into `w`: exactly the bytes of [`render`], the JSON report
/// streamed (its observations read back one at a time, never the whole document in memory).
pub fn write(
    report: &Report,
    format: Format,
    style: Style,
    w: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => json::write(report, std::io::BufWriter::with_capacity(256 << 10, w)),
        other => {
            w.write_all(render(report, other, style)?.as_bytes())?;
            w.flush()?;
            Ok(())
        }
    }
}

/// `v` with every object's keys in sorted order, recursively. serde_json keeps insertion order
/// when any crate in the build enables its `preserve_order` feature (a dev-dependency does), and
/// sorts otherwise; the SARIF and OSCAL renderers pass their documents through this so the same
/// report gives the same bytes in every build.
pub fn canonical_json(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical_json(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical_json).collect()),
        other => other,
    }
}
