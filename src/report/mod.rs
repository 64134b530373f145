//! The [`Report`]: the one value a run produces (`schema = "vouch.report/v1"`, documented field by
//! field in `docs/report-schema.md`), and one renderer per output format. Renderers only read the
//! report; none of them talks to probes or the engine.

pub mod coverage;
pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod oscal;
pub mod sarif;
pub mod table;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::control::{Require, Severity};

use crate::expect::{Check, Verdict};
use crate::probe::Observation;

pub const SCHEMA: &str = "vouch.report/v1";

/// Everything a run found, in a stable order (control id, then target).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    pub tool: Tool,
    pub run: Run,
    pub summary: Summary,
    pub controls: Vec<ControlResult>,
    /// Observation key (`sha256:` + digest of the observation's JSON) → observation.
    pub observations: BTreeMap<String, Observation>,
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

/// `run.context` key: the AWS endpoint override in effect (`{url, source, services}`), recorded
/// when an AWS probe ran against anything but AWS's own endpoints.
pub const CONTEXT_AWS_ENDPOINT: &str = "aws.endpoint_override";
/// `run.context` key: the inventory's `[resolve]` entries (`{"name:port": "address:port"}`).
pub const CONTEXT_RESOLVE: &str = "resolve";
/// `run.context` key: the extra TLS trust roots (`{path, sha256}`), `[tls] ca_file`.
pub const CONTEXT_CA_FILE: &str = "tls.ca_file";

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
    /// Set when an `[[override]]` skipped the control (`skip = true`): its one result is `n/a`
    /// with this reason, owner and place; nothing was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<crate::control::Skip>,
    pub results: Vec<TargetResult>,
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
        self.summary = s;
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

    /// Whether any result could not be observed.
    pub fn has_errors(&self) -> bool {
        self.controls
            .iter()
            .filter(|c| c.gates())
            .any(|c| c.results.iter().any(|r| r.verdict == Verdict::Error))
    }

    /// The observation behind a result.
    pub fn observation(&self, result: &TargetResult) -> Option<&Observation> {
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
    })
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
