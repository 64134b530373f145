//! `--format table`: one row per control × target (verdict, severity, control, target, and the
//! failing check written as `protocols.lowest >= TLSv1.2 (observed TLSv1.0)`), then a summary
//! line. Also the generic fact table `vouch probe` prints for probes without their own rendering.

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};

use super::{Report, Style};
use crate::expect::{Verdict, display_json};
use crate::probe::Observation;

fn verdict_cell(v: Verdict, color: bool) -> Cell {
    let cell = Cell::new(v.as_str().to_uppercase());
    if !color {
        return cell;
    }
    match v {
        Verdict::Pass => cell.fg(Color::Green),
        Verdict::Fail => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Verdict::Error => cell.fg(Color::Yellow).add_attribute(Attribute::Bold),
        Verdict::Waived => cell.fg(Color::Cyan),
        Verdict::NotApplicable => cell.fg(Color::DarkGrey),
    }
}

fn new_table(style: Style) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = style.width {
        t.set_width(w);
    }
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

pub fn render(report: &Report, style: Style) -> String {
    let mut t = new_table(style);
    let by_account = report.multi_account();
    if by_account {
        t.set_header(vec![
            "verdict", "severity", "control", "account", "target", "detail",
        ]);
    } else {
        t.set_header(vec!["verdict", "severity", "control", "target", "detail"]);
    }
    for c in &report.controls {
        for r in &c.results {
            let mut detail: Vec<String> = r
                .checks
                .iter()
                .filter(|k| k.verdict != Verdict::Pass)
                .map(|k| k.describe())
                .collect();
            if detail.is_empty() {
                if let Some(e) = &r.error {
                    detail.push(e.clone());
                }
            }
            if let Some(h) = &r.hint {
                if r.verdict == Verdict::Error {
                    detail.push(format!("hint: {h}"));
                }
            }
            if let Some(note) = c.any_note(r) {
                detail.push(note);
            }
            if let Some(w) = &r.waiver {
                detail.push(format!(
                    "waived ({} → waived) until {}: {}",
                    w.original_verdict, w.expires, w.reason
                ));
            }
            let mut row = vec![
                verdict_cell(r.verdict, style.color),
                Cell::new(c.severity.as_str()),
                Cell::new(&c.id),
            ];
            if by_account {
                row.push(Cell::new(
                    r.account.as_ref().map_or_else(|| "—".into(), |a| a.label()),
                ));
            }
            row.push(Cell::new(&r.target));
            row.push(Cell::new(detail.join("\n")));
            t.add_row(row);
        }
    }
    let s = &report.summary;
    let secs = report
        .run
        .finished_at
        .duration_since(report.run.started_at)
        .as_secs_f64();
    let mut out = String::new();
    for note in report.context_notes() {
        out.push_str(&format!("note: {note}\n"));
    }
    for w in report.warning_notes() {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!("{t}\n"));
    out.push_str(&format!(
        "{} controls: {} pass, {} fail, {} error, {} waived, {} n/a · {} results: {} pass, {} fail, {} error · {:.1}s{}\n",
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
        secs,
        if report.run.complete {
            ""
        } else {
            " · INCOMPLETE (interrupted)"
        }
    ));
    out
}

/// A probe's observation as a fact table (the default `vouch probe` rendering).
pub fn observation(obs: &Observation, color: bool) -> String {
    let mut t = new_table(Style { color, width: None });
    t.set_header(vec!["fact", "value"]);
    for (k, v) in &obs.facts {
        t.add_row(vec![k.clone(), display_json(v)]);
    }
    for (k, why) in &obs.unobserved {
        t.add_row(vec![k.clone(), format!("(not observed: {why})")]);
    }
    format!(
        "{} {} — observed {} in {} ms\n{t}\n",
        obs.probe, obs.target, obs.observed_at, obs.duration_ms
    )
}
