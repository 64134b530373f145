//! `--format csv`: one row per control × target, for spreadsheets. Multi-valued cells (criteria,
//! checks) are joined with `; ` so every row stays one line in a spreadsheet's eyes; the `csv`
//! crate quotes whatever needs quoting. Text a spreadsheet would run as a formula (a cell starting
//! with `=`, `+`, `-`, `@`, tab or CR: targets, errors and reasons can come from the systems
//! observed) is prefixed with `'`, as OWASP advises against CSV injection.

use super::Report;
use crate::expect::Verdict;

const HEADER: [&str; 17] = [
    "control",
    "title",
    "severity",
    "probe",
    "criteria",
    "target",
    "verdict",
    "original_verdict",
    "failing_checks",
    "error",
    "hint",
    "observed_at",
    "expires_at",
    "observation",
    "waiver_reason",
    "waiver_expires",
    "run_notes",
];

/// A cell a spreadsheet shows as text, never evaluates.
fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // A multi-account run adds the account of each row (appended: columns keep their places).
    let by_account = report.multi_account();
    let mut header: Vec<&str> = HEADER.to_vec();
    if by_account {
        header.extend(["account_id", "account_name"]);
    }
    w.write_record(&header)?;
    // What the run was pointed at (an AWS endpoint override, `[resolve]`, extra trust roots) on
    // every row: a row copied out of the sheet still says it.
    let notes = report.context_notes().join("; ");
    for c in &report.controls {
        let criteria = c
            .frameworks
            .iter()
            .flat_map(|(fw, ids)| ids.iter().map(move |id| format!("{fw}:{id}")))
            .collect::<Vec<_>>()
            .join("; ");
        for r in &c.results {
            let failing = r
                .checks
                .iter()
                .filter(|k| k.verdict != Verdict::Pass)
                .map(|k| k.describe())
                .collect::<Vec<_>>()
                .join("; ");
            let obs = report.observation(r);
            let w_ = r.waiver.as_ref();
            let record = [
                c.id.as_str(),
                c.title.as_str(),
                c.severity.as_str(),
                c.probe.as_str(),
                criteria.as_str(),
                r.target.as_str(),
                r.verdict.as_str(),
                w_.map(|w| w.original_verdict.as_str()).unwrap_or(""),
                failing.as_str(),
                r.error.as_deref().unwrap_or(""),
                r.hint.as_deref().unwrap_or(""),
                &obs.map(|o| o.observed_at.to_string()).unwrap_or_default(),
                &r.expires_at.map(|t| t.to_string()).unwrap_or_default(),
                r.observation.as_deref().unwrap_or(""),
                w_.map(|w| w.reason.as_str()).unwrap_or(""),
                &w_.map(|w| w.expires.to_string()).unwrap_or_default(),
                notes.as_str(),
            ];
            let mut record: Vec<String> = record.iter().map(|c| inert(c).into_owned()).collect();
            if by_account {
                let a = r.account.as_ref();
                record.push(a.map(|a| a.id.clone()).unwrap_or_default());
                record.push(
                    a.and_then(|a| a.name.as_deref())
                        .map(|n| inert(n).into_owned())
                        .unwrap_or_default(),
                );
            }
            w.write_record(&record)?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
