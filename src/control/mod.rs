//! The declarative model: [`Control`], its [`Severity`], [`Targets`] and typed expectations.
//! Loading and validation live in [`load`]: every problem is reported, each at its exact span.

pub mod builtin;
pub mod load;
pub mod overrides;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::expect::Expectation;
use crate::probe::Params;

pub use load::{Source, load_controls};

/// How much a failure matters; `--fail-on` compares against it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const NAMES: [&'static str; 5] = ["critical", "high", "medium", "low", "info"];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a control's results combine into its verdict (`require = "all" | "any"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// Every target must pass: the control's verdict is the worst of its results.
    #[default]
    All,
    /// One passing target is enough (one compliant organization trail among data-event trails):
    /// the control passes when a target passes, otherwise it takes the worst of its results.
    Any,
}

impl Require {
    pub const NAMES: [&'static str; 2] = ["all", "any"];

    pub fn is_all(&self) -> bool {
        *self == Require::All
    }
}

/// What a control runs against.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// An inventory group (`targets = "public_endpoints"`).
    Group(String),
    /// Literal targets (`targets = ["app.example.com:443"]`).
    List(Vec<String>),
}

/// Where in which file a control was defined (for messages that point back at it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Origin {
    pub path: PathBuf,
    /// The 1-based line of the control's `[[control]]` header (of its table when written inline).
    #[serde(skip)]
    pub line: u32,
    #[serde(skip)]
    pub span: Range<usize>,
    /// Spans of each literal target, in order (for "unknown attestation id" and the like).
    #[serde(skip)]
    pub target_spans: Vec<Range<usize>>,
    #[serde(skip)]
    pub file: usize,
    /// The file `target_spans` point into when an `[[override]]` replaced the targets.
    #[serde(skip)]
    pub targets_file: Option<usize>,
    /// Defined by the embedded library (unchanged), not by a user's file.
    #[serde(skip)]
    pub builtin: bool,
}

/// A control an `[[override]]` skipped (`skip = true`): it is reported `n/a` with this, never
/// dropped and never observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skip {
    /// Why it does not apply (mandatory).
    pub reason: String,
    /// Who decided (the override's `owner`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Where the override is: `path:line`.
    pub source: String,
}

impl Skip {
    /// One line for every format's detail column: reason, owner and where.
    pub fn describe(&self) -> String {
        let owner = self
            .owner
            .as_deref()
            .map_or_else(String::new, |o| format!("owner {o}; "));
        format!(
            "skipped: {} ({owner}[[override]] at {})",
            self.reason, self.source
        )
    }
}

/// One control: a promise, the probe that checks it, and what must hold.
#[derive(Clone, Debug, Serialize)]
pub struct Control {
    pub id: String,
    pub title: String,
    /// The sentence of the trust-center page it backs.
    pub claim: String,
    pub severity: Severity,
    /// Framework → criteria (`soc2 = ["CC6.7"]`).
    pub frameworks: BTreeMap<String, Vec<String>>,
    /// Criterion → why this control evidences it (one line per mapping).
    pub rationale: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub probe: String,
    pub targets: Targets,
    pub params: Params,
    #[serde(skip)]
    pub scope: Vec<Expectation>,
    #[serde(skip)]
    pub expect: Vec<Expectation>,
    pub remediation: String,
    /// How long evidence for this control stays fresh (seconds), when set.
    pub max_age: Option<u64>,
    /// With a pattern target (`*`): the fewest resources discovery must find (an account with no
    /// trail at all fails, instead of passing on an empty population).
    pub min_population: Option<u64>,
    /// Examining nothing (an empty population) is acceptable: no exit 3 for it.
    pub allow_empty: bool,
    /// `all` (default) or `any` of the targets must pass.
    #[serde(skip_serializing_if = "Require::is_all")]
    pub require: Require,
    /// Set when an `[[override]]` skipped the control.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<Skip>,
    #[serde(skip)]
    pub origin: Origin,
}

impl Control {
    /// The `where` and `expect` entries as `fact op value` strings.
    pub fn describe_expectations(&self) -> (Vec<String>, Vec<String>) {
        (
            self.scope.iter().map(Expectation::describe).collect(),
            self.expect.iter().map(Expectation::describe).collect(),
        )
    }
}
