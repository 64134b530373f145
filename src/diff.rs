//! Drift between two reports (`vouch diff OLD NEW`, `vouch check --baseline OLD`): which results
//! regressed, which were fixed (`fail`/`error` → `pass`), which changed otherwise, and which
//! controls and targets appeared or disappeared. Results are matched by (control id, target).
//! Only reads reports; judges nothing anew.
//!
//! A regression is anything that makes the estate look no better than it is: `pass`, `waived`
//! or `n/a` → `fail`/`error` (a waiver that expired counts), a new target that fails or errors,
//! and a target or control the baseline had that the new run lacks (a denied `*` discovery makes
//! every bucket disappear). Each regression names its reason.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::control::Severity;
use crate::expect::Verdict;
use crate::report::Report;

/// One result (control × target) whose verdict differs between the two reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Change {
    pub control: String,
    pub target: String,
    pub severity: Severity,
    pub old: Verdict,
    pub new: Verdict,
}

/// A result (or a whole control, `target` empty) that counts against `--fail-on-new`, with why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Regression {
    pub control: String,
    pub target: String,
    pub severity: Severity,
    /// The baseline's verdict; `None` when the baseline did not have the result.
    pub old: Option<Verdict>,
    /// The new verdict; `None` when the new run does not have the result.
    pub new: Option<Verdict>,
    pub reason: String,
}

/// A result present in only one of the reports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Presence {
    pub control: String,
    pub target: String,
    pub verdict: Verdict,
}

/// Everything that differs, each list sorted by control then target.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Drift {
    pub schema: &'static str,
    pub regressions: Vec<Regression>,
    pub fixes: Vec<Change>,
    /// Other verdict changes (e.g. `pass` → `waived`, `fail` → `error`).
    pub changed: Vec<Change>,
    pub new_controls: Vec<String>,
    pub removed_controls: Vec<String>,
    /// Targets new in NEW, for controls present in both (results of new controls are not listed).
    pub new_targets: Vec<Presence>,
    pub removed_targets: Vec<Presence>,
}

fn is_bad(v: Verdict) -> bool {
    matches!(v, Verdict::Fail | Verdict::Error)
}

/// Compares `old` with `new`.
pub fn compare(old: &Report, new: &Report) -> Drift {
    let mut d = Drift {
        schema: "vouch.diff/v1",
        ..Drift::default()
    };
    let index = |r: &Report| -> BTreeMap<String, (Severity, bool, BTreeMap<String, Verdict>)> {
        r.controls
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    (
                        c.severity,
                        c.gates(),
                        c.results
                            .iter()
                            .map(|t| (t.labelled_target(), t.verdict))
                            .collect(),
                    ),
                )
            })
            .collect()
    };
    let (o, n) = (index(old), index(new));
    let ids: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    for id in ids {
        match (o.get(id), n.get(id)) {
            (None, Some(_)) => d.new_controls.push(id.clone()),
            (Some((sev, _, _)), None) => {
                d.removed_controls.push(id.clone());
                d.regressions.push(Regression {
                    control: id.clone(),
                    target: String::new(),
                    severity: *sev,
                    old: None,
                    new: None,
                    reason: "the control is not in the new run".into(),
                });
            }
            (Some((osev, _, ot)), Some((sev, gates, nt))) => {
                // A control whose severity was lowered is gated at the higher of the two.
                let sev = (*sev).max(*osev);
                // `require = "any"` satisfied in the new run: its other targets' failures do not
                // count against the run (as for the exit code), so they are changes, not
                // regressions. Unsatisfied, every target counts again.
                let before = d.regressions.len();
                let targets: BTreeSet<&String> = ot.keys().chain(nt.keys()).collect();
                for t in targets {
                    let regression =
                        |old: Option<Verdict>, new: Option<Verdict>, reason: &str| Regression {
                            control: id.clone(),
                            target: t.clone(),
                            severity: sev,
                            old,
                            new,
                            reason: reason.into(),
                        };
                    match (ot.get(t), nt.get(t)) {
                        (Some(&a), Some(&b)) if a != b => {
                            let change = Change {
                                control: id.clone(),
                                target: t.clone(),
                                severity: sev,
                                old: a,
                                new: b,
                            };
                            if let Some(reason) = regressed(a, b) {
                                d.regressions.push(regression(Some(a), Some(b), reason));
                            } else if is_bad(a) && b == Verdict::Pass {
                                d.fixes.push(change);
                            } else {
                                d.changed.push(change);
                            }
                        }
                        (None, Some(&v)) => {
                            if is_bad(v) {
                                d.regressions.push(regression(
                                    None,
                                    Some(v),
                                    &format!("a new target that is {v}"),
                                ));
                            }
                            d.new_targets.push(Presence {
                                control: id.clone(),
                                target: t.clone(),
                                verdict: v,
                            });
                        }
                        (Some(&v), None) => {
                            // A row that proved something (pass, fail, waived) must not vanish
                            // unnoticed; an `n/a` or `error` row proved nothing, so losing it
                            // (an empty `*` that now finds resources) loses nothing.
                            if !matches!(v, Verdict::NotApplicable | Verdict::Error) {
                                d.regressions.push(regression(
                                    Some(v),
                                    None,
                                    "the target disappeared: the baseline had it, the new run does not",
                                ));
                            }
                            d.removed_targets.push(Presence {
                                control: id.clone(),
                                target: t.clone(),
                                verdict: v,
                            });
                        }
                        _ => {}
                    }
                }
                if !gates {
                    for r in d.regressions.split_off(before) {
                        if let (Some(old), Some(new)) = (r.old, r.new) {
                            d.changed.push(Change {
                                control: r.control,
                                target: r.target,
                                severity: r.severity,
                                old,
                                new,
                            });
                        }
                    }
                }
            }
            (None, None) => {}
        }
    }
    d
}

/// Why `old` → `new` is a regression, if it is one.
fn regressed(old: Verdict, new: Verdict) -> Option<&'static str> {
    if !is_bad(new) || old == new {
        return None;
    }
    match old {
        Verdict::Pass => Some("it passed in the baseline"),
        Verdict::Waived => {
            Some("it was waived in the baseline (the waiver expired or was removed)")
        }
        Verdict::NotApplicable => Some("it was n/a in the baseline"),
        Verdict::Fail | Verdict::Error => None,
    }
}

impl Drift {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.regressions.is_empty()
            && self.fixes.is_empty()
            && self.changed.is_empty()
            && self.new_controls.is_empty()
            && self.removed_controls.is_empty()
            && self.new_targets.is_empty()
            && self.removed_targets.is_empty()
    }

    /// Regressions of controls at or above `threshold` (what `--fail-on-new` gates on).
    pub fn regressions_at(&self, threshold: Severity) -> usize {
        self.regressions
            .iter()
            .filter(|c| c.severity >= threshold)
            .count()
    }

    /// One line of counts.
    pub fn summary_line(&self) -> String {
        format!(
            "{} regression{}, {} fix{}, {} other change{}, {} new and {} removed control{}, {} new and {} removed target{}",
            self.regressions.len(),
            plural(self.regressions.len(), "s"),
            self.fixes.len(),
            plural(self.fixes.len(), "es"),
            self.changed.len(),
            plural(self.changed.len(), "s"),
            self.new_controls.len(),
            self.removed_controls.len(),
            plural(self.new_controls.len() + self.removed_controls.len(), "s"),
            self.new_targets.len(),
            self.removed_targets.len(),
            plural(self.new_targets.len() + self.removed_targets.len(), "s"),
        )
    }

    /// A table: one row per difference, regressions first.
    pub fn render_table(&self) -> String {
        if self.is_empty() {
            return "no drift: every control and target has the same verdict\n".into();
        }
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(vec!["change", "control", "target", "old", "new"]);
        let v = |v: Option<Verdict>| v.map_or("—", Verdict::as_str);
        for r in &self.regressions {
            t.add_row(vec![
                format!("regression: {}", r.reason).as_str(),
                &r.control,
                &r.target,
                v(r.old),
                v(r.new),
            ]);
        }
        let rows = [("fixed", &self.fixes), ("changed", &self.changed)];
        for (what, list) in rows {
            for c in list {
                t.add_row(vec![
                    what,
                    &c.control,
                    &c.target,
                    c.old.as_str(),
                    c.new.as_str(),
                ]);
            }
        }
        for id in &self.new_controls {
            t.add_row(vec!["new control", id, "", "", ""]);
        }
        for id in &self.removed_controls {
            t.add_row(vec!["removed control", id, "", "", ""]);
        }
        for p in &self.new_targets {
            t.add_row(vec![
                "new target",
                &p.control,
                &p.target,
                "",
                p.verdict.as_str(),
            ]);
        }
        for p in &self.removed_targets {
            t.add_row(vec![
                "removed target",
                &p.control,
                &p.target,
                p.verdict.as_str(),
                "",
            ]);
        }
        format!("{t}\n{}\n", self.summary_line())
    }

    /// A Markdown section for a pull-request comment: the summary line and one table row per
    /// difference, regressions first.
    pub fn render_markdown(&self) -> String {
        let mut out = String::from("### vouch drift\n\n");
        if self.is_empty() {
            out.push_str("No drift: every control and target has the same verdict.\n");
            return out;
        }
        out.push_str(&format!("{}\n\n", self.summary_line()));
        out.push_str("| change | control | target | old | new |\n|---|---|---|---|---|\n");
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut row = |what: &str, control: &str, target: &str, old: &str, new: &str| {
            out.push_str(&format!(
                "| {what} | `{}` | {} | {old} | {new} |\n",
                cell(control),
                cell(target)
            ));
        };
        let v = |v: Option<Verdict>| v.map_or("—", Verdict::as_str);
        for r in &self.regressions {
            let what = format!("**regression**: {}", cell(&r.reason));
            row(&what, &r.control, &r.target, v(r.old), v(r.new));
        }
        for (what, list) in [("fixed", &self.fixes), ("changed", &self.changed)] {
            for c in list {
                row(what, &c.control, &c.target, c.old.as_str(), c.new.as_str());
            }
        }
        for id in &self.new_controls {
            row("new control", id, "", "", "");
        }
        for id in &self.removed_controls {
            row("removed control", id, "", "", "");
        }
        for p in &self.new_targets {
            row("new target", &p.control, &p.target, "", p.verdict.as_str());
        }
        for p in &self.removed_targets {
            row(
                "removed target",
                &p.control,
                &p.target,
                p.verdict.as_str(),
                "",
            );
        }
        out
    }
}

fn plural(n: usize, suffix: &'static str) -> &'static str {
    if n == 1 { "" } else { suffix }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ControlResult, Run, Summary, TargetResult, Tool};

    fn report(rows: &[(&str, &str, Verdict)]) -> Report {
        let mut controls: Vec<ControlResult> = Vec::new();
        for (id, target, v) in rows {
            let r = TargetResult {
                target: target.to_string(),
                account: None,
                verdict: *v,
                observation: None,
                checks: Vec::new(),
                error: None,
                hint: None,
                waiver: None,
                expires_at: None,
                engine: None,
            };
            match controls.iter_mut().find(|c| c.id == *id) {
                Some(c) => c.results.push(r),
                None => controls.push(ControlResult {
                    id: id.to_string(),
                    title: String::new(),
                    claim: String::new(),
                    severity: Severity::High,
                    probe: "tls".into(),
                    frameworks: BTreeMap::new(),
                    tags: Vec::new(),
                    remediation: String::new(),
                    verdict: Verdict::Pass,
                    examined_nothing: false,
                    require: Default::default(),
                    satisfied_by: Vec::new(),
                    source: None,
                    skipped: None,
                    results: vec![r],
                }),
            }
        }
        Report {
            schema: crate::report::SCHEMA.into(),
            tool: Tool::default(),
            run: Run {
                started_at: jiff::Timestamp::UNIX_EPOCH,
                finished_at: jiff::Timestamp::UNIX_EPOCH,
                complete: true,
                fail_on: Severity::Low,
                context: BTreeMap::new(),
                replay: None,
                warnings: Vec::new(),
                evidence: None,
                shard: None,
                merge: None,
            },
            summary: Summary::default(),
            controls,
            observations: crate::report::ObservationStore::new(),
            unused_waivers: Vec::new(),
            coverage: Vec::new(),
        }
    }

    #[test]
    fn classifies_every_kind_of_drift() {
        use Verdict::*;
        let old = report(&[
            ("A", "a1", Pass),
            ("A", "a2", Fail),
            ("A", "a3", Pass),
            ("A", "gone", Pass),
            ("B", "b", Pass),
            ("C", "c", Error),
            ("C", "*", NotApplicable),
        ]);
        let new = report(&[
            ("A", "a1", Fail),
            ("A", "a2", Pass),
            ("A", "a3", Waived),
            ("A", "fresh", Fail),
            ("C", "c", Pass),
            ("D", "d", Fail),
        ]);
        let d = compare(&old, &new);
        let pairs = |l: &[Change]| -> Vec<(String, String)> {
            l.iter()
                .map(|c| (c.control.clone(), c.target.clone()))
                .collect()
        };
        let regressions: Vec<(String, String)> = d
            .regressions
            .iter()
            .map(|c| (c.control.clone(), c.target.clone()))
            .collect();
        // a1 passed and fails; `fresh` is a new failing target; `gone` and control B vanished.
        assert_eq!(
            regressions,
            [
                ("A".to_string(), "a1".to_string()),
                ("A".into(), "fresh".into()),
                ("A".into(), "gone".into()),
                ("B".into(), String::new()),
            ]
        );
        assert_eq!(
            pairs(&d.fixes),
            [
                ("A".to_string(), "a2".to_string()),
                ("C".into(), "c".into())
            ]
        );
        assert_eq!(pairs(&d.changed), [("A".into(), "a3".into())]);
        assert_eq!(d.new_controls, ["D"]);
        assert_eq!(d.removed_controls, ["B"]);
        assert_eq!(d.new_targets[0].target, "fresh");
        assert_eq!(d.removed_targets[0].target, "gone");
        assert_eq!(d.regressions_at(Severity::Critical), 0);
        assert_eq!(d.regressions_at(Severity::High), 4);
        assert!(compare(&new, &new).is_empty());
        let md = d.render_markdown();
        assert!(
            md.contains("| **regression**: it passed in the baseline | `A` | a1 | pass | fail |"),
            "{md}"
        );
        assert!(md.contains("| new control | `D` |"), "{md}");
        assert!(compare(&new, &new).render_markdown().contains("No drift"));
    }

    #[test]
    fn a_satisfied_any_of_control_has_no_regression_but_an_unsatisfied_one_does() {
        // Prevents: `--fail-on-new` failing a run on a data-events trail that stopped passing
        // while the organization trail still satisfies the any-of control (the exit code does
        // not count it either), and the opposite: an any-of control nobody satisfies any more.
        use crate::control::Require;
        use Verdict::*;
        let any = |mut r: Report| {
            for c in &mut r.controls {
                c.require = Require::Any;
            }
            r.summarise();
            r
        };
        let old = any(report(&[("T", "org", Pass), ("T", "data", Pass)]));
        let satisfied = any(report(&[("T", "org", Pass), ("T", "data", Fail)]));
        let d = compare(&old, &satisfied);
        assert!(d.regressions.is_empty(), "{:?}", d.regressions);
        assert_eq!(d.changed.len(), 1);
        let unsatisfied = any(report(&[("T", "org", Fail), ("T", "data", Fail)]));
        let d = compare(&old, &unsatisfied);
        assert_eq!(d.regressions.len(), 2, "{:?}", d.regressions);
    }
}
