//! `--format markdown`: GitHub-flavoured Markdown that fits a pull-request comment. A summary line
//! first, then failures and errors (worst severity first) in a table, then everything else
//! folded into `<details>`: all results, waivers, framework coverage. Text from the report is
//! escaped (HTML and table pipes), and the comment stays under GitHub's 65 536-character limit:
//! each table has a budget, and rows past it are counted in a note instead of shown.

use std::fmt::Write;

use super::{ControlResult, Report, TargetResult, coverage};
use crate::expect::Verdict;

/// GitHub rejects comments longer than 65 536 characters; leave room for a CI bot's own text.
const LIMIT: usize = 60_000;
/// Budgets of the tables that grow with the estate; all results get what is left of [`LIMIT`].
const FAILURES_BUDGET: usize = 28_000;
const WAIVERS_BUDGET: usize = 6_000;
const UNUSED_BUDGET: usize = 3_000;

/// Appends `lines` to `out` while the section stays within `budget` bytes; notes how many were
/// left out. Returns how many were shown.
fn capped(out: &mut String, lines: Vec<String>, budget: usize, what: &str) -> usize {
    let start = out.len();
    let total = lines.len();
    let mut shown = 0;
    for line in lines {
        if out.len() - start + line.len() > budget {
            break;
        }
        out.push_str(&line);
        shown += 1;
    }
    if shown < total {
        let _ = writeln!(
            out,
            "\n_{} more {what} are in the full report (`--format html` or `json`)._",
            total - shown
        );
    }
    shown
}

fn row_line(c: &ControlResult, r: &TargetResult) -> String {
    let mut line = String::new();
    row(&mut line, c, r);
    line
}

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let headline = match (s.fail, s.error) {
        (0, 0) => "✅ every control holds".to_string(),
        (0, e) => format!(
            "⚠️ {} could not be observed",
            plural(e, "control", "controls")
        ),
        (f, 0) => format!("❌ {} failing", plural(f, "control", "controls")),
        (f, e) => format!(
            "❌ {} failing, ⚠️ {} could not be observed",
            plural(f, "control", "controls"),
            e
        ),
    };
    let _ = writeln!(out, "### vouch: {headline}\n");
    for note in report.context_notes() {
        let _ = writeln!(out, "> **Note:** {}\n", cell(&note));
    }
    for w in report.warning_notes() {
        let _ = writeln!(out, "> **Warning:** {}\n", cell(&w));
    }
    let _ = writeln!(
        out,
        "**{} controls**: {} pass · {} fail · {} error · {} waived · {} n/a — {} results: {} pass, {} fail, {} error, {} waived, {} n/a{}\n",
        s.controls,
        s.pass,
        s.fail,
        s.error,
        s.waived,
        s.not_applicable,
        s.results.total,
        s.results.pass,
        s.results.fail,
        s.results.error,
        s.results.waived,
        s.results.not_applicable,
        if report.run.complete {
            ""
        } else {
            " · **incomplete** (interrupted)"
        }
    );

    let mut problems: Vec<(&ControlResult, &TargetResult)> = report
        .controls
        .iter()
        .flat_map(|c| c.results.iter().map(move |r| (c, r)))
        .filter(|(c, r)| c.gates() && matches!(r.verdict, Verdict::Fail | Verdict::Error))
        .collect();
    problems.sort_by(|(ca, ra), (cb, rb)| {
        (rb.verdict.rank(), cb.severity)
            .cmp(&(ra.verdict.rank(), ca.severity))
            .then_with(|| (&ca.id, &ra.account, &ra.target).cmp(&(&cb.id, &rb.account, &rb.target)))
    });
    if !problems.is_empty() {
        out.push_str("| verdict | severity | control | target | detail |\n|---|---|---|---|---|\n");
        let lines = problems.iter().map(|(c, r)| row_line(c, r)).collect();
        capped(&mut out, lines, FAILURES_BUDGET, "failures and errors");
        out.push('\n');
    }

    let waived: Vec<(&ControlResult, &TargetResult)> = report
        .controls
        .iter()
        .flat_map(|c| c.results.iter().map(move |r| (c, r)))
        .filter(|(_, r)| r.waiver.is_some())
        .collect();
    let mut tail = String::new();
    if !waived.is_empty() {
        let _ = writeln!(
            tail,
            "<details><summary>Waivers ({})</summary>\n\n| control | target | was | expires | reason | owner | approved by | ticket |\n|---|---|---|---|---|---|---|---|",
            waived.len()
        );
        let lines = waived
            .iter()
            .map(|(c, r)| {
                let w = r.waiver.as_ref().expect("filtered");
                format!(
                    "| `{}` | `{}` | {} | {} | {} | {} | {} | {} |\n",
                    code(&c.id),
                    code(&r.labelled_target()),
                    w.original_verdict,
                    w.expires,
                    cell(&w.reason),
                    cell(&w.owner),
                    cell(&w.approved_by),
                    cell(w.ticket.as_deref().unwrap_or("—"))
                )
            })
            .collect();
        capped(&mut tail, lines, WAIVERS_BUDGET, "waivers");
        tail.push_str("\n</details>\n\n");
    }
    let skipped: Vec<&ControlResult> = report
        .controls
        .iter()
        .filter(|c| c.skipped.is_some())
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            tail,
            "<details><summary>Skipped by overrides ({})</summary>\n\n| control | verdict | reason | owner | override |\n|---|---|---|---|---|",
            skipped.len()
        );
        let lines = skipped
            .iter()
            .map(|c| {
                let s = c.skipped.as_ref().expect("filtered");
                format!(
                    "| `{}` | ➖ n/a | {} | {} | `{}` |\n",
                    code(&c.id),
                    cell(&s.reason),
                    cell(s.owner.as_deref().unwrap_or("—")),
                    code(&s.source)
                )
            })
            .collect();
        capped(&mut tail, lines, WAIVERS_BUDGET, "skipped controls");
        tail.push_str("\n</details>\n\n");
    }
    if !report.unused_waivers.is_empty() {
        let _ = writeln!(
            tail,
            "<details><summary>Waivers that did not apply ({})</summary>\n\n| status | control | targets | expires | reason | owner | ticket |\n|---|---|---|---|---|---|---|",
            report.unused_waivers.len()
        );
        let lines = report
            .unused_waivers
            .iter()
            .map(|w| {
                let targets = if w.targets.is_empty() {
                    "*".to_string()
                } else {
                    w.targets.join(", ")
                };
                format!(
                    "| {} | `{}` | `{}` | {} | {} | {} | {} |\n",
                    cell(&w.status),
                    code(&w.control),
                    code(&targets),
                    w.expires,
                    cell(&w.reason),
                    cell(&w.owner),
                    cell(w.ticket.as_deref().unwrap_or("—"))
                )
            })
            .collect();
        capped(&mut tail, lines, UNUSED_BUDGET, "waivers");
        tail.push_str("\n</details>\n\n");
    }
    for cov in &report.coverage {
        let _ = writeln!(
            tail,
            "<details><summary>{} coverage — {}</summary>\n\n{}\n</details>\n",
            cell(&cov.name),
            cov.summary.line(),
            coverage::markdown_table(cov)
        );
    }

    // All results: the part that grows with the estate, cut to fit the comment.
    let mut all = format!(
        "<details><summary>All results ({})</summary>\n\n| verdict | severity | control | target | detail |\n|---|---|---|---|---|\n",
        s.results.total
    );
    let budget = LIMIT.saturating_sub(out.len() + tail.len() + all.len() + 400);
    let lines = report
        .controls
        .iter()
        .flat_map(|c| c.results.iter().map(move |r| row_line(c, r)))
        .collect();
    capped(&mut all, lines, budget, "results");
    all.push_str("\n</details>\n\n");
    out.push_str(&all);
    out.push_str(&tail);
    let _ = writeln!(
        out,
        "<sub>vouch {} · run {} → {}</sub>",
        cell(&report.tool.version),
        super::html::when(report.run.started_at),
        super::html::when(report.run.finished_at)
    );
    out
}

fn row(out: &mut String, c: &ControlResult, r: &TargetResult) {
    let mut detail: Vec<String> = r
        .checks
        .iter()
        .filter(|k| k.verdict != Verdict::Pass)
        .map(|k| format!("`{}`", code(&k.describe())))
        .collect();
    if detail.is_empty() {
        if let Some(e) = &r.error {
            detail.push(cell(e));
        }
    }
    if r.verdict == Verdict::Error {
        if let Some(h) = &r.hint {
            detail.push(format!("hint: {}", cell(h)));
        }
    }
    if let Some(note) = c.any_note(r) {
        detail.push(cell(&note));
    }
    if let Some(w) = &r.waiver {
        detail.push(format!(
            "waived ({} → waived) until {}: {}",
            w.original_verdict,
            w.expires,
            cell(&w.reason)
        ));
    }
    let _ = writeln!(
        out,
        "| {} | {} | `{}` | `{}` | {} |",
        badge(r.verdict),
        c.severity,
        code(&c.id),
        code(&r.labelled_target()),
        detail.join("<br>")
    );
}

fn badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ **fail**",
        Verdict::Error => "⚠️ **error**",
        Verdict::Waived => "💤 waived",
        Verdict::NotApplicable => "➖ n/a",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Text for a table cell: HTML-escaped (GitHub renders inline HTML), pipes escaped, one line.
fn cell(s: &str) -> String {
    super::html::escape(s)
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// Text inside backticks in a table cell: backticks cannot be escaped there, so they become
/// quotes; pipes still end a cell unless escaped.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}
