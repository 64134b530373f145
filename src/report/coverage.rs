//! Framework coverage: which controls evidence each criterion of a framework (SOC 2 today), split
//! into automated (a probe looks at a live system) and attestation (dated evidence a person
//! provides), and which criteria no control evidences at all.
//!
//! The criteria come from `controls/frameworks/*.toml`, embedded in the binary; a control names
//! the criteria it backs in `frameworks = { soc2 = ["CC6.7"] }`. [`compute`] turns a set of
//! controls into a [`Coverage`]; the CLI stores one per framework in the report, where the HTML
//! and Markdown renderers read it, and `vouch coverage` prints it on its own.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::control::Control;

/// The framework catalogues shipped with vouch: (id, TOML text).
const BUILTIN: &[(&str, &str)] = &[("soc2", include_str!("../../controls/frameworks/soc2.toml"))];

/// Further catalogues `vouch coverage --framework ID` knows (not added to every report's
/// `coverage[]`, which stays the SOC 2 one): ISO/IEC 27001:2022 Annex A.
const CATALOGUES: &[(&str, &str)] = &[(
    "iso27001",
    include_str!("../../controls/frameworks/iso27001.toml"),
)];

/// A framework's list of criteria.
#[derive(Clone, Debug, Deserialize)]
pub struct Framework {
    pub id: String,
    pub name: String,
    #[serde(rename = "criterion")]
    pub criteria: Vec<Criterion>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Criterion {
    pub id: String,
    #[serde(default)]
    pub group: String,
    pub title: String,
}

impl Framework {
    /// Parses a catalogue (`id`, `name`, `[[criterion]]` tables).
    pub fn parse(text: &str) -> Result<Framework> {
        let fw: Framework = toml::from_str(text)?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &fw.criteria {
            anyhow::ensure!(seen.insert(&c.id), "criterion {} is listed twice", c.id);
        }
        Ok(fw)
    }

    /// The built-in catalogues, in id order.
    pub fn builtin() -> Vec<Framework> {
        BUILTIN
            .iter()
            .map(|(id, text)| {
                Framework::parse(text).unwrap_or_else(|e| panic!("built-in framework {id}: {e}"))
            })
            .collect()
    }

    /// Every catalogue shipped with vouch (`soc2`, `iso27001`), in that order.
    pub fn shipped() -> Vec<Framework> {
        let mut all = Framework::builtin();
        all.extend(CATALOGUES.iter().map(|(id, text)| {
            Framework::parse(text).unwrap_or_else(|e| panic!("built-in framework {id}: {e}"))
        }));
        all
    }

    /// A shipped catalogue by id (`soc2`, `iso27001`), or a catalogue file when `name` is a path
    /// to one.
    pub fn find(name: &str) -> Result<Framework> {
        if let Some(fw) = Framework::shipped().into_iter().find(|f| f.id == name) {
            return Ok(fw);
        }
        let path = Path::new(name);
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Framework::parse(&text).with_context(|| format!("in {}", path.display()));
        }
        let known: Vec<String> = Framework::shipped().into_iter().map(|f| f.id).collect();
        anyhow::bail!(
            "unknown framework `{name}`; built in: {} (or give a catalogue file, e.g. my-framework.toml)",
            known.join(", ")
        )
    }
}

/// How a control evidences a criterion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A probe observes a live system.
    Automated,
    /// A dated statement with an evidence file (the `attestation` probe).
    Attestation,
}

impl Kind {
    pub fn of(probe: &str) -> Kind {
        if probe == "attestation" {
            Kind::Attestation
        } else {
            Kind::Automated
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Automated => "automated",
            Kind::Attestation => "attestation",
        }
    }
}

/// One framework's coverage by a set of controls (`coverage[]` in the report).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Coverage {
    /// The framework id, as controls name it (`soc2`).
    pub framework: String,
    pub name: String,
    /// Every criterion of the catalogue, in its order, with the controls mapped to it.
    pub criteria: Vec<CriterionCoverage>,
    /// Criteria that controls name but the catalogue does not list (a typo, another revision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<CriterionCoverage>,
    pub summary: CoverageSummary,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CoverageSummary {
    pub criteria: usize,
    /// Criteria with at least one automated control.
    pub automated: usize,
    /// Criteria evidenced by attestations only.
    pub attestation_only: usize,
    /// Criteria with no control at all.
    pub uncovered: usize,
    /// In a run's report: criteria one of whose controls had a `pass` or `fail` (a waived
    /// failure counts) in this run. A criterion whose controls were all `n/a` or `error` is
    /// mapped, not evidenced. Absent outside a run (`vouch coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidenced: Option<usize>,
    /// In a run whose results span several AWS accounts: per account (id order), how many
    /// criteria one of that account's `pass`/`fail` rows evidences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountEvidence>,
}

/// One account's share of a framework's coverage.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AccountEvidence {
    pub id: String,
    pub evidenced: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CriterionCoverage {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    pub controls: Vec<MappedControl>,
    /// In a run's report: whether one of its controls had a `pass` or `fail` in this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidenced: Option<bool>,
    /// In a run whose results span several AWS accounts: the accounts in which one of its
    /// controls had a `pass` or `fail` (a criterion mapped only to non-AWS controls has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidenced_in_accounts: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MappedControl {
    pub id: String,
    pub probe: String,
    pub kind: Kind,
    /// Why this control evidences the criterion (the control's `rationale`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

impl CriterionCoverage {
    pub fn has(&self, kind: Kind) -> bool {
        self.controls.iter().any(|c| c.kind == kind)
    }

    /// `automated`, `attestation only` or `none`.
    pub fn status(&self) -> &'static str {
        if self.has(Kind::Automated) {
            "automated"
        } else if self.has(Kind::Attestation) {
            "attestation only"
        } else {
            "none"
        }
    }

    /// The mapped controls of one kind, as `ID (probe)`.
    pub fn list(&self, kind: Kind) -> Vec<String> {
        self.controls
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| match kind {
                Kind::Automated => format!("{} ({})", c.id, c.probe),
                Kind::Attestation => c.id.clone(),
            })
            .collect()
    }
}

/// Which of `controls` evidence each criterion of `framework`.
pub fn compute(framework: &Framework, controls: &[Control]) -> Coverage {
    let mut by_criterion: BTreeMap<&str, Vec<MappedControl>> = BTreeMap::new();
    for c in controls {
        for id in c.frameworks.get(&framework.id).into_iter().flatten() {
            let list = by_criterion.entry(id.as_str()).or_default();
            if list.iter().any(|m| m.id == c.id) {
                continue;
            }
            list.push(MappedControl {
                id: c.id.clone(),
                probe: c.probe.clone(),
                kind: Kind::of(&c.probe),
                rationale: c.rationale.get(id).cloned(),
            });
        }
    }
    for list in by_criterion.values_mut() {
        list.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    }
    let criteria: Vec<CriterionCoverage> = framework
        .criteria
        .iter()
        .map(|k| CriterionCoverage {
            id: k.id.clone(),
            group: k.group.clone(),
            title: k.title.clone(),
            controls: by_criterion.remove(k.id.as_str()).unwrap_or_default(),
            evidenced: None,
            evidenced_in_accounts: None,
        })
        .collect();
    let unknown = by_criterion
        .into_iter()
        .map(|(id, controls)| CriterionCoverage {
            id: id.to_string(),
            group: String::new(),
            title: String::new(),
            controls,
            evidenced: None,
            evidenced_in_accounts: None,
        })
        .collect();
    let summary = CoverageSummary {
        criteria: criteria.len(),
        automated: criteria.iter().filter(|c| c.has(Kind::Automated)).count(),
        attestation_only: criteria
            .iter()
            .filter(|c| c.status() == "attestation only")
            .count(),
        uncovered: criteria.iter().filter(|c| c.controls.is_empty()).count(),
        evidenced: None,
        accounts: Vec::new(),
    };
    Coverage {
        framework: framework.id.clone(),
        name: framework.name.clone(),
        criteria,
        unknown,
        summary,
    }
}

/// Coverage of every built-in framework by `controls` (what `vouch check` puts in the report).
pub fn builtin(controls: &[Control]) -> Vec<Coverage> {
    Framework::builtin()
        .iter()
        .map(|f| compute(f, controls))
        .collect()
}

/// Per-run coverage: marks each criterion evidenced only when one of its controls had a `pass`
/// or `fail` (a waived failure included) in `report`'s results, and counts them.
pub fn mark_evidenced(coverage: &mut [Coverage], results: &[super::ControlResult]) {
    use crate::expect::Verdict;
    let judges = |r: &super::TargetResult| {
        matches!(r.verdict, Verdict::Pass | Verdict::Fail)
            || r.waiver
                .as_ref()
                .is_some_and(|w| w.original_verdict == Verdict::Fail)
    };
    let judged = |id: &str| {
        results
            .iter()
            .filter(|c| c.id == id)
            .any(|c| c.results.iter().any(judges))
    };
    // A run over several accounts: which accounts' rows evidence each control.
    let mut accounts: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for c in results {
        accounts.extend(
            c.results
                .iter()
                .filter_map(|r| r.account.as_ref().map(|a| a.id.as_str())),
        );
    }
    let by_account = accounts.len() > 1;
    let judged_in = |id: &str| -> std::collections::BTreeSet<String> {
        results
            .iter()
            .filter(|c| c.id == id)
            .flat_map(|c| c.results.iter())
            .filter(|r| judges(r))
            .filter_map(|r| r.account.as_ref().map(|a| a.id.clone()))
            .collect()
    };
    for cov in coverage {
        let mut n = 0;
        let mut per_account: BTreeMap<String, usize> =
            accounts.iter().map(|a| (a.to_string(), 0)).collect();
        for crit in &mut cov.criteria {
            let yes = crit.controls.iter().any(|m| judged(&m.id));
            n += usize::from(yes);
            crit.evidenced = Some(yes);
            if by_account {
                let mut ids = std::collections::BTreeSet::new();
                for m in &crit.controls {
                    ids.extend(judged_in(&m.id));
                }
                for id in &ids {
                    *per_account.entry(id.clone()).or_default() += 1;
                }
                crit.evidenced_in_accounts = Some(ids.into_iter().collect());
            }
        }
        for crit in &mut cov.unknown {
            crit.evidenced = Some(crit.controls.iter().any(|m| judged(&m.id)));
        }
        cov.summary.evidenced = Some(n);
        cov.summary.accounts = if by_account {
            per_account
                .into_iter()
                .map(|(id, evidenced)| AccountEvidence { id, evidenced })
                .collect()
        } else {
            Vec::new()
        };
    }
}

impl CoverageSummary {
    /// `58 criteria: 6 automated, 3 attestation only, 49 with no control`.
    pub fn line(&self) -> String {
        format!(
            "{} criteria: {} automated, {} attestation only, {} with no control",
            self.criteria, self.automated, self.attestation_only, self.uncovered
        )
    }
}

/// The coverage table as Markdown (for `vouch coverage --format markdown` and the Markdown
/// report). `|` and newlines in cells are escaped so a table row stays one row.
pub fn markdown_table(cov: &Coverage) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out =
        String::from("| criterion | title | automated | attestation |\n|---|---|---|---|\n");
    for c in cov.criteria.iter().chain(&cov.unknown) {
        let auto = c.list(Kind::Automated).join(", ");
        let att = c.list(Kind::Attestation).join(", ");
        let title = if c.title.is_empty() {
            "(not in the catalogue)"
        } else {
            &c.title
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&c.id),
            cell(title),
            if auto.is_empty() {
                "—".into()
            } else {
                cell(&auto)
            },
            if att.is_empty() {
                "—".into()
            } else {
                cell(&att)
            },
        ));
    }
    out
}

/// `vouch coverage --format markdown`: a heading, the summary line and the table.
pub fn markdown(cov: &Coverage) -> String {
    format!(
        "### {}\n\n{}\n\n{}",
        cov.name,
        cov.summary.line(),
        markdown_table(cov)
    )
}

/// The warnings `vouch coverage` gives: criteria the controls map to that the framework does not
/// define.
pub fn unknown_warnings(cov: &Coverage) -> Vec<String> {
    cov.unknown
        .iter()
        .map(|u| {
            let ids: Vec<&str> = u.controls.iter().map(|c| c.id.as_str()).collect();
            format!(
                "warning: {} is not a {} criterion, but {} map{} to it",
                u.id,
                cov.framework,
                ids.join(", "),
                if ids.len() == 1 { "s" } else { "" }
            )
        })
        .collect()
}

/// The coverage table for a terminal.
pub fn table(cov: &Coverage) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(vec!["criterion", "title", "automated", "attestation"]);
    for c in cov.criteria.iter().chain(&cov.unknown) {
        let auto = c.list(Kind::Automated).join("\n");
        let att = c.list(Kind::Attestation).join("\n");
        t.add_row(vec![
            c.id.clone(),
            if c.title.is_empty() {
                "(not in the catalogue)".into()
            } else {
                c.title.clone()
            },
            if auto.is_empty() { "—".into() } else { auto },
            if att.is_empty() { "—".into() } else { att },
        ]);
    }
    format!("{}\n{t}\n{}\n", cov.name, cov.summary.line())
}
