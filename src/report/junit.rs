//! `--format junit`: JUnit XML (quick-junit) for CI systems that show test results. One test
//! suite per control, one test case per control × target: a `fail` is a `<failure>` carrying the
//! failing checks (`protocols.lowest >= TLSv1.2 (observed TLSv1.0)`), an `error` is an `<error>`
//! with the reason and hint, `n/a` and `waived` are `<skipped>` with the reason.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::{Report, TargetResult};
use crate::expect::Verdict;

pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut out = quick_junit::Report::new("vouch");
    let notes = report.context_notes();
    for c in &report.controls {
        let mut suite = TestSuite::new(c.id.as_str());
        for note in &notes {
            suite.add_property(Property::new("run.note", note.as_str()));
        }
        suite.add_property(Property::new("severity", c.severity.as_str()));
        suite.add_property(Property::new("probe", c.probe.as_str()));
        for (fw, ids) in &c.frameworks {
            suite.add_property(Property::new(format!("framework.{fw}"), ids.join(", ")));
        }
        for r in &c.results {
            let status = match c.any_note(r) {
                Some(note) if !c.gates() && r.verdict != Verdict::Pass => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!("{}: {note}", r.verdict));
                    s
                }
                _ => status(r),
            };
            let mut case = TestCase::new(r.labelled_target(), status);
            case.set_classname(c.id.as_str());
            case.set_assertions(r.checks.len());
            if let Some(obs) = report.observation(r) {
                case.set_time(Duration::from_millis(obs.duration_ms));
                case.add_property(Property::new("observed_at", obs.observed_at.to_string()));
            }
            if let Some(key) = &r.observation {
                case.add_property(Property::new("observation", key.as_str()));
            }
            suite.add_test_case(case);
        }
        out.add_test_suite(suite);
    }
    let mut s = out.to_string()?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

fn status(r: &TargetResult) -> TestCaseStatus {
    let failing: Vec<String> = r
        .checks
        .iter()
        .filter(|k| matches!(k.verdict, Verdict::Fail | Verdict::Error))
        .map(|k| k.describe())
        .collect();
    match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("fail");
            s.set_message(failing.join("; "));
            s.set_description(failing.join("\n"));
            s
        }
        Verdict::Error => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_type("error");
            let why = r.error.clone().unwrap_or_else(|| failing.join("; "));
            s.set_message(why.as_str());
            let mut detail = failing;
            if let Some(e) = &r.error {
                detail.insert(0, e.clone());
            }
            if let Some(h) = &r.hint {
                detail.push(format!("hint: {h}"));
            }
            s.set_description(detail.join("\n"));
            s
        }
        Verdict::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            s.set_type("n/a");
            s.set_message(r.error.as_deref().unwrap_or("outside the control's scope"));
            s
        }
        Verdict::Waived => {
            let mut s = TestCaseStatus::skipped();
            s.set_type("waived");
            match &r.waiver {
                Some(w) => {
                    s.set_message(format!(
                        "waived ({} → waived) until {}: {}",
                        w.original_verdict, w.expires, w.reason
                    ));
                    let mut detail = failing;
                    detail.push(format!(
                        "owner: {}; approved by: {}{}",
                        w.owner,
                        w.approved_by,
                        w.ticket
                            .as_ref()
                            .map(|t| format!("; ticket: {t}"))
                            .unwrap_or_default()
                    ));
                    s.set_description(detail.join("\n"));
                }
                None => {
                    s.set_message("waived");
                }
            }
            s
        }
    }
}
