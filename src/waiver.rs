//! Waivers: an accepted, dated exception to a control (`waivers.toml`, `--waivers FILE` or the
//! inventory's `waivers = "…"`). Loading validates every entry with spans like control files do;
//! [`apply`] turns a covered `fail` or `error` into `waived`, keeping the original verdict in the
//! result, and lists waivers that covered nothing or had expired.
//!
//! ```toml
//! [[waiver]]
//! control = "RES-DR-TEST-ANNUAL"
//! targets = ["dr-test-*"]        # optional globs over the control's targets; default: all
//! reason = "DR exercise moved to Q1 after the datacenter migration"
//! owner = "platform-team"
//! approved_by = "CISO"
//! ticket = "SEC-1234"            # optional
//! expires = 2027-01-31           # required, at most one year ahead; valid through that day
//! verdicts = ["fail", "error"]   # optional; default ["fail"]: errors stay errors
//! ```
//!
//! A waiver waives failures, not blindness: by default it turns only `fail` into `waived`, and it
//! never covers a row the engine made itself (discovery denied, population too small, group
//! undefined, run interrupted) unless one of its `targets` is that row's target, written out.

use std::ops::Range;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use jiff::civil::Date;
use toml::de::DeValue;

use crate::diag::{self, Diagnostics, TableReader};
use crate::expect::Verdict;
use crate::report::{AppliedWaiver, Report, UnusedWaiver};

const KEYS: [&str; 8] = [
    "control",
    "verdicts",
    "targets",
    "reason",
    "owner",
    "approved_by",
    "ticket",
    "expires",
];

/// One waiver, validated.
#[derive(Clone, Debug)]
pub struct Waiver {
    pub control: String,
    /// The globs as written; empty = every target of the control.
    pub targets: Vec<String>,
    matcher: Option<GlobSet>,
    pub reason: String,
    pub owner: String,
    pub approved_by: String,
    pub ticket: Option<String>,
    pub expires: Date,
    /// The verdicts it turns into `waived`: `fail` (default) and, when named, `error`.
    pub verdicts: Vec<Verdict>,
    /// `file:line:col` of the entry, for warnings.
    pub location: String,
    pub span: Range<usize>,
}

impl Waiver {
    /// Whether the waiver covers `target` of its control.
    pub fn covers(&self, control: &str, target: &str) -> bool {
        control == self.control && self.matcher.as_ref().is_none_or(|m| m.is_match(target))
    }

    /// Whether the waiver applies to `result` of `control`: its verdict is one the waiver names,
    /// its target matches, and a row the engine made itself is named exactly.
    pub fn applies(&self, control: &str, result: &crate::report::TargetResult) -> bool {
        if !self.verdicts.contains(&result.verdict) || !self.covers(control, &result.target) {
            return false;
        }
        result.engine.is_none() || self.targets.iter().any(|t| t == &result.target)
    }

    /// Whether it has expired on `today` (a waiver is valid through its `expires` day).
    pub fn expired(&self, today: Date) -> bool {
        today > self.expires
    }

    fn unused(&self, status: &str) -> UnusedWaiver {
        UnusedWaiver {
            control: self.control.clone(),
            targets: self.targets.clone(),
            status: status.into(),
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            ticket: self.ticket.clone(),
            expires: self.expires,
        }
    }
}

/// Reads and validates a waivers file, reporting every problem to `diags`. `controls` are the
/// known control ids (a waiver for any other is an error); `today` bounds `expires` to one year.
pub fn load(path: &Path, controls: &[&str], today: Date, diags: &mut Diagnostics) -> Vec<Waiver> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let file = diags.add_file(path, String::new());
            diags.error(
                file,
                0..0,
                "unreadable-file",
                format!("cannot read waivers {}: {e}", path.display()),
                "pass --waivers FILE or set `waivers = \"…\"` in the inventory",
            );
            return Vec::new();
        }
    };
    parse(path, &text, controls, today, diags)
}

/// Reads waivers from `text` (the bytes of `path`, already read: a run keeps exactly what it
/// loaded); problems go to `diags` with `path`'s name.
pub fn parse(
    path: &Path,
    text: &str,
    controls: &[&str],
    today: Date,
    diags: &mut Diagnostics,
) -> Vec<Waiver> {
    let file = diags.add_file(path, text.to_string());
    let Some(doc) = diag::parse_toml(diags, file, text) else {
        return Vec::new();
    };
    let limit = today
        .checked_add(jiff::Span::new().years(1))
        .unwrap_or(today);
    let mut out = Vec::new();
    let mut top = TableReader::new(file, doc.span(), doc.get_ref());
    if let Some((_, v)) = top.get("waiver") {
        let items = match v.get_ref() {
            DeValue::Array(items) => items.iter().collect::<Vec<_>>(),
            other => {
                diags.error(
                    file,
                    v.span(),
                    "wrong-type",
                    "`waiver` must be an array of tables",
                    format!("write [[waiver]] tables, found {}", diag::de_kind(other)),
                );
                Vec::new()
            }
        };
        for item in items {
            let DeValue::Table(t) = item.get_ref() else {
                diags.error(
                    file,
                    item.span(),
                    "wrong-type",
                    "each waiver must be a table",
                    "",
                );
                continue;
            };
            let mut r = TableReader::new(file, item.span(), t);
            let control = r.string(diags, "control", true, "the id of the control it waives");
            if let Some(c) = &control
                && !controls.contains(&c.get_ref().as_str())
            {
                let hint = diag::suggest(c.get_ref(), controls)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| "`vouch list` shows the control ids".into());
                diags.error(
                    file,
                    c.span(),
                    "unknown-control",
                    format!("no control `{}` is loaded", c.get_ref()),
                    hint,
                );
            }
            let reason = non_empty(diags, &mut r, "reason", "why the exception is accepted");
            let owner = non_empty(diags, &mut r, "owner", "who fixes it before it expires");
            let approved_by = non_empty(diags, &mut r, "approved_by", "who accepted the risk");
            let ticket = r.string(diags, "ticket", false, "a ticket reference");
            let mut targets = Vec::new();
            let mut matcher_ok = true;
            let mut builder = GlobSetBuilder::new();
            if let Some(list) = r.strings(diags, "targets") {
                for g in list {
                    match Glob::new(g.get_ref()) {
                        Ok(glob) => {
                            builder.add(glob);
                            targets.push(g.into_inner());
                        }
                        Err(e) => {
                            matcher_ok = false;
                            diags.error(
                                file,
                                g.span(),
                                "invalid-glob",
                                format!("`{}` is not a valid glob", g.get_ref()),
                                e.kind().to_string(),
                            );
                        }
                    }
                }
            }
            let mut verdicts = vec![Verdict::Fail];
            if let Some(list) = r.strings(diags, "verdicts") {
                verdicts.clear();
                for v in list {
                    match v.get_ref().as_str() {
                        "fail" => verdicts.push(Verdict::Fail),
                        "error" => verdicts.push(Verdict::Error),
                        other => {
                            diags.error(
                                file,
                                v.span(),
                                "invalid-verdict",
                                format!("a waiver cannot waive `{other}`"),
                                "`verdicts` lists \"fail\" and/or \"error\"",
                            );
                        }
                    }
                }
                if verdicts.is_empty() {
                    diags.error(
                        file,
                        item.span(),
                        "empty-value",
                        "`verdicts` is empty",
                        "write verdicts = [\"fail\"] or [\"fail\", \"error\"], or leave it out",
                    );
                }
            }
            let expires = match r.get("expires") {
                Some((_, v)) => {
                    let parsed = match v.get_ref() {
                        DeValue::Datetime(d) => d.to_string().parse::<Date>().ok(),
                        DeValue::String(s) => s.parse::<Date>().ok(),
                        _ => None,
                    };
                    match parsed {
                        None => {
                            diags.error(
                                file,
                                v.span(),
                                "invalid-date",
                                "`expires` must be a date",
                                "write a date such as 2027-01-31",
                            );
                            None
                        }
                        Some(d) if d > limit => {
                            diags.error(
                                file,
                                v.span(),
                                "waiver-too-long",
                                format!("`expires = {d}` is more than one year ahead"),
                                format!("a waiver may run at most until {limit}; renew it then"),
                            );
                            None
                        }
                        Some(d) => Some(d),
                    }
                }
                None => {
                    r.missing(
                        diags,
                        "expires",
                        "the last day it applies, at most a year ahead",
                    );
                    None
                }
            };
            r.finish(diags, &KEYS);
            let matcher = if targets.is_empty() {
                None
            } else {
                builder.build().ok()
            };
            if let (Some(control), Some(reason), Some(owner), Some(approved_by), Some(expires)) =
                (control, reason, owner, approved_by, expires)
                && matcher_ok
            {
                out.push(Waiver {
                    control: control.into_inner(),
                    targets,
                    matcher,
                    reason,
                    owner,
                    approved_by,
                    ticket: ticket.map(|t| t.into_inner()),
                    expires,
                    verdicts,
                    location: diags.location(file, item.span().start),
                    span: item.span(),
                });
            }
        }
    }
    top.finish(diags, &["waiver"]);
    out
}

fn non_empty(
    diags: &mut Diagnostics,
    r: &mut TableReader<'_, '_>,
    name: &str,
    what: &str,
) -> Option<String> {
    let s = r.string(diags, name, true, what)?;
    if s.get_ref().trim().is_empty() {
        diags.error(
            r.file,
            s.span(),
            "empty-value",
            format!("`{name}` is empty"),
            format!("say {what}"),
        );
        return None;
    }
    Some(s.into_inner())
}

/// What applying waivers found, for warnings on stderr.
#[derive(Debug, Default)]
pub struct Applied {
    /// Results turned into `waived`.
    pub waived: usize,
    /// Waivers past their `expires` day (ignored).
    pub expired: Vec<Waiver>,
    /// Unexpired waivers that covered no `fail` or `error`.
    pub unused: Vec<Waiver>,
}

/// Applies `waivers` to `report` as of `today`: a covered `fail`/`error` becomes `waived` with the
/// original verdict kept; the first matching waiver (in file order) wins. Expired and unused
/// waivers of controls in the report are listed in `report.unused_waivers`. Re-summarises.
pub fn apply(report: &mut Report, waivers: &[Waiver], today: Date) -> Applied {
    let mut applied = Applied::default();
    let mut hits = vec![0usize; waivers.len()];
    for c in &mut report.controls {
        for r in &mut c.results {
            if !matches!(r.verdict, Verdict::Fail | Verdict::Error) {
                continue;
            }
            let found = waivers
                .iter()
                .enumerate()
                .find(|(_, w)| !w.expired(today) && w.applies(&c.id, r));
            if let Some((i, w)) = found {
                hits[i] += 1;
                applied.waived += 1;
                r.waiver = Some(AppliedWaiver {
                    original_verdict: r.verdict,
                    reason: w.reason.clone(),
                    owner: w.owner.clone(),
                    approved_by: w.approved_by.clone(),
                    ticket: w.ticket.clone(),
                    expires: w.expires,
                });
                r.verdict = Verdict::Waived;
            }
        }
    }
    for (w, n) in waivers.iter().zip(hits) {
        if !report.controls.iter().any(|c| c.id == w.control) {
            continue; // not selected in this run (--only/--tag): neither used nor unused
        }
        if w.expired(today) {
            report.unused_waivers.push(w.unused("expired"));
            applied.expired.push(w.clone());
        } else if n == 0 {
            report.unused_waivers.push(w.unused("unused"));
            applied.unused.push(w.clone());
        }
    }
    report.summarise();
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, today: Date) -> (Vec<Waiver>, Diagnostics) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waivers.toml");
        std::fs::write(&path, text).unwrap();
        let mut diags = Diagnostics::new();
        let w = load(&path, &["TLS-12", "DR-TEST"], today, &mut diags);
        (w, diags)
    }

    const TODAY: Date = jiff::civil::date(2026, 11, 29);

    fn report(rows: &[(&str, &str, Verdict)]) -> Report {
        let mut r: Report = serde_json::from_value(serde_json::json!({
            "schema": "vouch.report/v1",
            "tool": {"name": "vouch", "version": "0"},
            "run": {"started_at": "2026-11-29T00:00:00Z", "finished_at": "2026-11-29T00:00:00Z",
                    "complete": true, "fail_on": "low"},
            "summary": {"controls": 0, "pass": 0, "fail": 0, "error": 0, "waived": 0, "n/a": 0,
                        "results": {"total": 0, "pass": 0, "fail": 0, "error": 0, "waived": 0, "n/a": 0}},
            "controls": [], "observations": {}
        }))
        .unwrap();
        for (id, target, v) in rows {
            let result = serde_json::json!({"target": target, "verdict": v, "observation": null,
                                            "checks": [], "error": null});
            match r.controls.iter_mut().find(|c| c.id == *id) {
                Some(c) => c.results.push(serde_json::from_value(result).unwrap()),
                None => r.controls.push(
                    serde_json::from_value(serde_json::json!({
                        "id": id, "title": "t", "severity": "high", "probe": "tls",
                        "frameworks": {}, "verdict": "pass", "results": [result]
                    }))
                    .unwrap(),
                ),
            }
        }
        r.summarise();
        r
    }

    #[test]
    fn apply_waives_fail_only_by_default_first_match_wins_and_lists_the_rest() {
        let (w, d) = load_text(
            "[[waiver]]\ncontrol = \"TLS-12\"\ntargets = [\"a*\"]\nreason = \"first\"\nowner = \"o\"\n\
             approved_by = \"a\"\nexpires = 2026-12-01\n\n[[waiver]]\ncontrol = \"TLS-12\"\n\
             reason = \"second\"\nowner = \"o\"\napproved_by = \"a\"\nexpires = 2026-12-01\n\n\
             [[waiver]]\ncontrol = \"DR-TEST\"\nreason = \"old\"\nowner = \"o\"\napproved_by = \"a\"\n\
             expires = 2026-11-28\n",
            TODAY,
        );
        assert!(!d.has_errors(), "{}", d.render_short());
        let mut r = report(&[
            ("TLS-12", "a1", Verdict::Fail),
            ("TLS-12", "a2", Verdict::Error),
            ("TLS-12", "b1", Verdict::Fail),
            ("TLS-12", "b2", Verdict::Pass),
            ("TLS-12", "b3", Verdict::NotApplicable),
            ("DR-TEST", "dr", Verdict::Fail),
        ]);
        let applied = apply(&mut r, &w, TODAY);
        let tls = &r.controls[0].results;
        let got: Vec<(Verdict, Option<&str>, Option<Verdict>)> = tls
            .iter()
            .map(|x| {
                (
                    x.verdict,
                    x.waiver.as_ref().map(|w| w.reason.as_str()),
                    x.waiver.as_ref().map(|w| w.original_verdict),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Verdict::Waived, Some("first"), Some(Verdict::Fail)),
                // An error is not waived by a waiver without `verdicts = [.., "error"]`.
                (Verdict::Error, None, None),
                (Verdict::Waived, Some("second"), Some(Verdict::Fail)),
                (Verdict::Pass, None, None),
                (Verdict::NotApplicable, None, None),
            ]
        );
        assert_eq!(r.controls[1].results[0].verdict, Verdict::Fail, "expired");
        assert_eq!(applied.waived, 2);
        assert_eq!(applied.expired.len(), 1);
        assert!(applied.unused.is_empty());
        assert_eq!(r.unused_waivers.len(), 1);
        assert_eq!(r.unused_waivers[0].status, "expired");
        assert_eq!(r.summary.results.waived, 2);
        assert_eq!(r.controls[0].verdict, Verdict::Error);
    }

    #[test]
    fn a_valid_waiver_loads_with_its_globs() {
        let (w, d) = load_text(
            "[[waiver]]\ncontrol = \"TLS-12\"\ntargets = [\"legacy-*.example.com:443\"]\n\
             reason = \"r\"\nowner = \"o\"\napproved_by = \"a\"\nticket = \"SEC-1\"\nexpires = 2027-11-29\n",
            TODAY,
        );
        assert!(!d.has_errors(), "{}", d.render_short());
        assert!(w[0].covers("TLS-12", "legacy-1.example.com:443"));
        assert!(!w[0].covers("TLS-12", "app.example.com:443"));
        assert!(!w[0].covers("DR-TEST", "legacy-1.example.com:443"));
        assert!(!w[0].expired(jiff::civil::date(2027, 11, 29)));
        assert!(w[0].expired(jiff::civil::date(2027, 11, 30)));
    }

    #[test]
    fn every_mistake_is_reported_with_its_code() {
        let (w, d) = load_text(
            "[[waiver]]\ncontrol = \"TLS-2\"\nreason = \"\"\nowner = \"o\"\napproved_by = \"a\"\n\
             expires = 2028-01-01\ntargets = [\"[\"]\nticekt = \"x\"\n\n[[waiver]]\ncontrol = \"DR-TEST\"\n\
             reason = \"r\"\nowner = \"o\"\napproved_by = \"a\"\nexpires = \"soon\"\n\n[[waiver]]\ncontrol = \"DR-TEST\"\n",
            TODAY,
        );
        assert!(w.is_empty());
        let codes: Vec<&str> = d.sorted().iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [
                "unknown-control",
                "empty-value",
                "waiver-too-long",
                "invalid-glob",
                "unknown-key",
                "invalid-date",
                "missing-key",
                "missing-key",
                "missing-key",
                "missing-key",
            ],
            "{}",
            d.render_short()
        );
        assert!(d.render_short().contains("did you mean `TLS-12`"));
    }
}
