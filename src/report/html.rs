//! `--format html`: one self-contained HTML file an auditor can open, file or mail. No external
//! assets and no script at all (a Content-Security-Policy forbids both, so nothing in the report
//! can load or run anything): inline CSS, the pass/fail chart drawn in inline SVG, evidence in
//! native `<details>` elements. Sections: summary (counts and chart), one section per control
//! (claim, criteria, each target's checks and the evidence behind them: facts shown, raw
//! evidence and attachments collapsed), waivers, framework coverage. Every string that comes from
//! the report goes through [`escape`].

use std::fmt::Write;

use super::coverage::{Coverage, Kind};
use super::{ControlResult, Report, TargetResult};
use crate::expect::{Verdict, display_json};
use crate::probe::Observation;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// A time for people to read: to the second (reports keep the full precision in JSON).
pub fn when(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

const VERDICTS: [Verdict; 5] = [
    Verdict::Pass,
    Verdict::Fail,
    Verdict::Error,
    Verdict::Waived,
    Verdict::NotApplicable,
];

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Waived => "waived",
        Verdict::NotApplicable => "na",
    }
}

fn color(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "#1a7f37",
        Verdict::Fail => "#cf222e",
        Verdict::Error => "#9a6700",
        Verdict::Waived => "#0969da",
        Verdict::NotApplicable => "#8c959f",
    }
}

fn badge(v: Verdict) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        class(v),
        v.as_str().to_uppercase()
    )
}

/// An element id from arbitrary text (control ids are free-form enough to need it).
fn anchor(prefix: &str, i: usize, s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}{i}-{clean}")
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 16px 0 6px; }
.meta, .muted { color: var(--muted); font-size: 13px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; }
pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg2); font-weight: 600; font-size: 13px; }
.badge { display: inline-block; min-width: 64px; text-align: center; border-radius: 12px; padding: 0 8px; font-size: 12px; font-weight: 700; color: #fff; }
.badge.pass { background: #1a7f37; } .badge.fail { background: #cf222e; } .badge.error { background: #9a6700; }
.badge.waived { background: #0969da; } .badge.na { background: #8c959f; }
.summary { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
.summary table { width: auto; }
.summary .n { text-align: right; font-variant-numeric: tabular-nums; }
.control { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 6px; padding: 4px 16px 12px; margin: 16px 0; }
.control.fail { border-left-color: #cf222e; } .control.error { border-left-color: #9a6700; }
.control.pass { border-left-color: #1a7f37; } .control.waived { border-left-color: #0969da; } .control.na { border-left-color: #8c959f; }
.control h2 { border: 0; margin-top: 12px; }
.claim { font-style: italic; margin: 4px 0 8px; }
dl.props { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; font-size: 14px; }
dl.props dt { color: var(--muted); }
dl.props dd { margin: 0; }
.result { border-top: 1px dashed var(--line); margin-top: 10px; padding-top: 4px; }
.why { margin: 4px 0; }
.waiver { background: #ddf4ff; border: 1px solid #54aeff; border-radius: 6px; padding: 6px 10px; margin: 6px 0; font-size: 14px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--muted); }
tr.fail td, tr.error td { background: #fff8f8; }
nav ol { columns: 2; font-size: 14px; }
.cov-none td { color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"#;

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let title = format!(
        "vouch report — {} controls, {} fail, {} error",
        s.controls, s.fail, s.error
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"generator\" content=\"{} {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&report.tool.name),
        escape(&report.tool.version),
        escape(&title)
    );
    let secs = report
        .run
        .finished_at
        .duration_since(report.run.started_at)
        .as_secs_f64();
    let _ = writeln!(
        out,
        "<header>\n<h1>vouch report</h1>\n<p class=\"meta\">Run {} → {} ({secs:.1}s) · {} {} · fails on {} and above{}</p>\n</header>",
        when(report.run.started_at),
        when(report.run.finished_at),
        escape(&report.tool.name),
        escape(&report.tool.version),
        report.run.fail_on,
        if report.run.complete {
            ""
        } else {
            " · <strong>INCOMPLETE: the run was interrupted</strong>"
        }
    );
    for note in report.context_notes() {
        let _ = writeln!(
            out,
            "<p class=\"meta\"><strong>Note:</strong> {}</p>",
            escape(&note)
        );
    }
    for w in report.warning_notes() {
        let _ = writeln!(
            out,
            "<p class=\"meta\"><strong>Warning:</strong> {}</p>",
            escape(&w)
        );
    }
    summary(&mut out, report);
    contents(&mut out, report);
    out.push_str("<section id=\"controls\">\n");
    for (i, c) in report.controls.iter().enumerate() {
        control(&mut out, report, i, c);
    }
    out.push_str("</section>\n");
    waivers(&mut out, report);
    for cov in &report.coverage {
        coverage(&mut out, report, cov);
    }
    if !report.run.context.is_empty() {
        out.push_str("<section id=\"context\">\n<h2>Run context</h2>\n<dl class=\"props\">\n");
        for (k, v) in &report.run.context {
            let _ = writeln!(
                out,
                "<dt>{}</dt><dd><code>{}</code></dd>",
                escape(k),
                escape(&display_json(v))
            );
        }
        out.push_str("</dl>\n</section>\n");
    }
    let _ = writeln!(
        out,
        "<footer>Generated by {} {} from a <code>{}</code> report. Observation keys are SHA-256 digests of the observations' JSON.</footer>\n</body>\n</html>",
        escape(&report.tool.name),
        escape(&report.tool.version),
        escape(&report.schema)
    );
    out
}

fn count(s: &super::Summary, v: Verdict) -> (usize, usize) {
    match v {
        Verdict::Pass => (s.pass, s.results.pass),
        Verdict::Fail => (s.fail, s.results.fail),
        Verdict::Error => (s.error, s.results.error),
        Verdict::Waived => (s.waived, s.results.waived),
        Verdict::NotApplicable => (s.not_applicable, s.results.not_applicable),
    }
}

/// The counts table (each number tagged with `data-summary` so tests and scripts can read it)
/// and a stacked-bar chart of controls and results by verdict.
fn summary(out: &mut String, report: &Report) {
    let s = &report.summary;
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"summary\">\n");
    out.push_str(
        "<table class=\"counts\">\n<tr><th>verdict</th><th>controls</th><th>results</th></tr>\n",
    );
    for v in VERDICTS {
        let (c, r) = count(s, v);
        let key = v.as_str();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\" data-summary=\"{key}\">{c}</td><td class=\"n\" data-summary=\"results.{key}\">{r}</td></tr>",
            badge(v)
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>total</th><th class=\"n\" data-summary=\"controls\">{}</th><th class=\"n\" data-summary=\"results.total\">{}</th></tr>\n</table>",
        s.controls, s.results.total
    );
    chart(out, s);
    out.push_str("</div>\n</section>\n");
}

fn chart(out: &mut String, s: &super::Summary) {
    const W: f64 = 520.0;
    const LEFT: f64 = 80.0;
    const BAR: f64 = 26.0;
    let rows = [
        ("controls", s.controls, 0usize),
        ("results", s.results.total, 1usize),
    ];
    let label = VERDICTS
        .iter()
        .map(|v| {
            let (c, r) = count(s, *v);
            format!("{} {c} controls / {r} results", v.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"130\" viewBox=\"0 0 {} 130\" role=\"img\" aria-label=\"{}\">\n<title>Verdicts: {}</title>",
        W + LEFT + 10.0,
        W + LEFT + 10.0,
        escape(&label),
        escape(&label)
    );
    for (name, total, idx) in rows {
        let y = 10.0 + idx as f64 * 40.0;
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{:.0}\" font-size=\"13\" fill=\"#59636e\">{name}</text>",
            y + 18.0
        );
        if total == 0 {
            let _ = writeln!(
                out,
                "<rect x=\"{LEFT}\" y=\"{y}\" width=\"{W}\" height=\"{BAR}\" fill=\"#eaeef2\"/>"
            );
            continue;
        }
        let mut x = LEFT;
        for v in VERDICTS {
            let (c, r) = count(s, v);
            let n = if idx == 0 { c } else { r };
            if n == 0 {
                continue;
            }
            let w = W * n as f64 / total as f64;
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR}\" fill=\"{}\"><title>{n} {}</title></rect>",
                color(v),
                v.as_str()
            );
            if w >= 18.0 {
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.0}\" font-size=\"13\" font-weight=\"700\" fill=\"#fff\" text-anchor=\"middle\">{n}</text>",
                    x + w / 2.0,
                    y + 18.0
                );
            }
            x += w;
        }
    }
    // Legend.
    let mut x = LEFT;
    for v in VERDICTS {
        let _ = writeln!(
            out,
            "<rect x=\"{x:.0}\" y=\"100\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.0}\" y=\"111\" font-size=\"12\" fill=\"#1f2328\">{}</text>",
            color(v),
            x + 16.0,
            v.as_str()
        );
        x += 90.0;
    }
    out.push_str("</svg>\n");
}

fn contents(out: &mut String, report: &Report) {
    if report.controls.is_empty() {
        return;
    }
    out.push_str("<nav>\n<h2>Controls</h2>\n<ol>\n");
    let mut order: Vec<(usize, &ControlResult)> = report.controls.iter().enumerate().collect();
    // Worst first, so the reader starts with what needs doing.
    order.sort_by(|(ia, a), (ib, b)| {
        b.verdict
            .rank()
            .cmp(&a.verdict.rank())
            .then(b.severity.cmp(&a.severity))
            .then(ia.cmp(ib))
    });
    for (i, c) in order {
        let _ = writeln!(
            out,
            "<li>{} <a href=\"#{}\">{}</a> — {}</li>",
            badge(c.verdict),
            escape(&anchor("c", i, &c.id)),
            escape(&c.id),
            escape(&c.title)
        );
    }
    out.push_str("</ol>\n</nav>\n");
}

fn control(out: &mut String, report: &Report, i: usize, c: &ControlResult) {
    let _ = writeln!(
        out,
        "<section class=\"control {}\" id=\"{}\">\n<h2>{} {} — {}</h2>",
        class(c.verdict),
        escape(&anchor("c", i, &c.id)),
        badge(c.verdict),
        escape(&c.id),
        escape(&c.title)
    );
    if !c.claim.is_empty() {
        let _ = writeln!(out, "<p class=\"claim\">“{}”</p>", escape(&c.claim));
    }
    out.push_str("<dl class=\"props\">\n");
    let _ = writeln!(
        out,
        "<dt>severity</dt><dd>{}</dd>\n<dt>probe</dt><dd><code>{}</code></dd>",
        c.severity,
        escape(&c.probe)
    );
    if !c.frameworks.is_empty() {
        let crit = c
            .frameworks
            .iter()
            .map(|(fw, ids)| format!("{}: {}", escape(fw), escape(&ids.join(", "))))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(out, "<dt>criteria</dt><dd>{crit}</dd>");
    }
    if !c.tags.is_empty() {
        let _ = writeln!(out, "<dt>tags</dt><dd>{}</dd>", escape(&c.tags.join(", ")));
    }
    if !c.remediation.is_empty() {
        let _ = writeln!(
            out,
            "<dt>remediation</dt><dd>{}</dd>",
            escape(&c.remediation)
        );
    }
    if c.require == crate::control::Require::Any {
        let by = if c.satisfied_by.is_empty() {
            "no target passed".to_string()
        } else {
            format!("satisfied by {}", escape(&c.satisfied_by.join(", ")))
        };
        let _ = writeln!(
            out,
            "<dt>require</dt><dd>any target (one passing target is enough): {by}</dd>"
        );
    }
    out.push_str("</dl>\n");
    for r in &c.results {
        result(out, report, r);
        if let Some(note) = c.any_note(r) {
            let _ = writeln!(out, "<p class=\"why muted\">{}</p>", escape(&note));
        }
    }
    out.push_str("</section>\n");
}

fn result(out: &mut String, report: &Report, r: &TargetResult) {
    let _ = writeln!(
        out,
        "<div class=\"result {}\">\n<h3>{} <code>{}</code></h3>",
        class(r.verdict),
        badge(r.verdict),
        escape(&r.labelled_target())
    );
    if let Some(e) = &r.error {
        let what = if r.verdict == Verdict::NotApplicable {
            "Not applicable"
        } else {
            "Could not observe"
        };
        let _ = writeln!(
            out,
            "<p class=\"why\"><strong>{what}:</strong> {}</p>",
            escape(e)
        );
    }
    if let Some(h) = &r.hint {
        let _ = writeln!(out, "<p class=\"why muted\">Hint: {}</p>", escape(h));
    }
    if let Some(w) = &r.waiver {
        let _ = writeln!(
            out,
            "<div class=\"waiver\"><strong>Waived</strong> (was {}) until {}: {}<br><span class=\"muted\">owner {} · approved by {}{}</span></div>",
            badge(w.original_verdict),
            escape(&w.expires.to_string()),
            escape(&w.reason),
            escape(&w.owner),
            escape(&w.approved_by),
            w.ticket
                .as_ref()
                .map(|t| format!(" · ticket {}", escape(t)))
                .unwrap_or_default()
        );
    }
    if !r.checks.is_empty() {
        out.push_str("<table class=\"checks\">\n<tr><th>fact</th><th>op</th><th>expected</th><th>observed</th><th>verdict</th></tr>\n");
        for k in &r.checks {
            let observed = match (&k.observed, &k.message) {
                (Some(o), _) => format!("<code>{}</code>", escape(&display_json(o))),
                (None, Some(m)) => format!("<em>{}</em>", escape(m)),
                (None, None) => "<em>not observed</em>".into(),
            };
            let _ = writeln!(
                out,
                "<tr class=\"{}\"><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td><td>{observed}</td><td>{}</td></tr>",
                class(k.verdict),
                escape(&k.fact),
                escape(&k.op.to_string()),
                escape(&display_json(&k.expected)),
                badge(k.verdict)
            );
        }
        out.push_str("</table>\n");
    }
    if let (Some(key), Some(obs)) = (&r.observation, report.observation(r)) {
        evidence(out, r, key, &obs);
    }
    out.push_str("</div>\n");
}

fn evidence(out: &mut String, r: &TargetResult, key: &str, obs: &Observation) {
    let expires = r
        .expires_at
        .map(|t| format!(" · expires {}", when(t)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<p class=\"muted\">Evidence: <code>{}</code> {} observed {} in {} ms{expires} · <span class=\"mono\">{}</span></p>",
        escape(&obs.probe),
        escape(&obs.target),
        when(obs.observed_at),
        obs.duration_ms,
        escape(key)
    );
    // The facts the checks read, then the rest, so the relevant ones are on top.
    let checked: Vec<&str> = r.checks.iter().map(|k| k.fact.as_str()).collect();
    let mut facts: Vec<(&String, &serde_json::Value)> = obs.facts.iter().collect();
    facts.sort_by_key(|(k, _)| !checked.contains(&k.as_str()));
    if !facts.is_empty() || !obs.unobserved.is_empty() {
        out.push_str("<table class=\"facts\">\n<tr><th>fact</th><th>value</th></tr>\n");
        for (k, v) in facts {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                escape(k),
                escape(&display_json(v))
            );
        }
        for (k, why) in &obs.unobserved {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><em>not observed: {}</em></td></tr>",
                escape(k),
                escape(why)
            );
        }
        out.push_str("</table>\n");
    }
    if !obs.evidence.is_empty() {
        let raw = serde_json::to_string_pretty(&obs.evidence).unwrap_or_default();
        let _ = writeln!(
            out,
            "<details><summary>Raw evidence ({} item{})</summary>\n<pre>{}</pre>\n</details>",
            obs.evidence.len(),
            if obs.evidence.len() == 1 { "" } else { "s" },
            escape(&raw)
        );
    }
    for a in &obs.attachments {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(a.content.as_bytes()));
        let _ = writeln!(
            out,
            "<details class=\"attachment\"><summary>Attachment: {} ({}, {} bytes, sha256 {})</summary>\n<pre>{}</pre>\n</details>",
            escape(&a.name),
            escape(&a.media_type),
            a.content.len(),
            &digest[..16],
            escape(&a.content)
        );
    }
}

fn waivers(out: &mut String, report: &Report) {
    let rows: Vec<(&ControlResult, &TargetResult)> = report
        .controls
        .iter()
        .flat_map(|c| c.results.iter().map(move |r| (c, r)))
        .filter(|(_, r)| r.waiver.is_some())
        .collect();
    out.push_str("<section id=\"waivers\">\n<h2>Waivers</h2>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">No waiver applied in this run.</p>\n");
    } else {
        applied_waivers(out, &rows);
    }
    if !report.unused_waivers.is_empty() {
        out.push_str("<h3>Waivers that did not apply</h3>\n<table>\n<tr><th>status</th><th>control</th><th>targets</th><th>expires</th><th>reason</th><th>owner</th><th>ticket</th></tr>\n");
        for w in &report.unused_waivers {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&w.status),
                escape(&w.control),
                escape(&if w.targets.is_empty() {
                    "*".to_string()
                } else {
                    w.targets.join(", ")
                }),
                escape(&w.expires.to_string()),
                escape(&w.reason),
                escape(&w.owner),
                escape(w.ticket.as_deref().unwrap_or("—"))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

fn applied_waivers(out: &mut String, rows: &[(&ControlResult, &TargetResult)]) {
    out.push_str("<table>\n<tr><th>control</th><th>target</th><th>was</th><th>expires</th><th>reason</th><th>owner</th><th>approved by</th><th>ticket</th></tr>\n");
    for (c, r) in rows {
        let w = r.waiver.as_ref().expect("filtered");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.id),
            escape(&r.labelled_target()),
            badge(w.original_verdict),
            escape(&w.expires.to_string()),
            escape(&w.reason),
            escape(&w.owner),
            escape(&w.approved_by),
            escape(w.ticket.as_deref().unwrap_or("—"))
        );
    }
    out.push_str("</table>\n");
}

fn coverage(out: &mut String, report: &Report, cov: &Coverage) {
    let _ = writeln!(
        out,
        "<section class=\"coverage\" id=\"coverage-{}\">\n<h2>Coverage: {}</h2>\n<p>{}</p>",
        escape(&anchor("", 0, &cov.framework)),
        escape(&cov.name),
        escape(&cov.summary.line())
    );
    out.push_str("<table>\n<tr><th>criterion</th><th>title</th><th>automated</th><th>attestation</th></tr>\n");
    let link = |id: &str| -> String {
        match report.controls.iter().enumerate().find(|(_, c)| c.id == id) {
            Some((i, c)) => format!(
                "{} <a href=\"#{}\">{}</a>",
                badge(c.verdict),
                escape(&anchor("c", i, id)),
                escape(id)
            ),
            None => escape(id),
        }
    };
    for c in cov.criteria.iter().chain(&cov.unknown) {
        let cell = |kind: Kind| -> String {
            let items: Vec<String> = c
                .controls
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| {
                    let probe = if kind == Kind::Automated {
                        format!(" <span class=\"muted\">({})</span>", escape(&m.probe))
                    } else {
                        String::new()
                    };
                    format!("{}{probe}", link(&m.id))
                })
                .collect();
            if items.is_empty() {
                "—".into()
            } else {
                items.join("<br>")
            }
        };
        let title = if c.title.is_empty() {
            "<em>not in the catalogue</em>".to_string()
        } else {
            escape(&c.title)
        };
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{title}</td><td>{}</td><td>{}</td></tr>",
            if c.controls.is_empty() {
                "cov-none"
            } else {
                "cov"
            },
            escape(&c.id),
            cell(Kind::Automated),
            cell(Kind::Attestation)
        );
    }
    out.push_str("</table>\n</section>\n");
}
