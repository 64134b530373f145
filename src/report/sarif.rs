//! `--format sarif`: SARIF 2.1.0 for code-scanning dashboards. Rules are the controls (title,
//! claim, remediation, criteria as tags); results are the `fail` and `error` results, with the
//! level from the control's severity (critical/high → `error`, medium → `warning`, low/info →
//! `note`). Each result's physical location is the control's definition (its file and the line of
//! its `[[control]]`; built-in controls name `controls/<file>.toml`, as in the repository and as
//! `vouch controls export controls/` writes it), which GitHub code scanning requires; the target is its
//! logical location. A waived result is kept, with an accepted external suppression carrying the
//! waiver, so dashboards show it as suppressed rather than losing it. Fingerprints are stable
//! across runs (control id + target).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ControlResult, Report, Severity, TargetResult};
use crate::expect::Verdict;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (a CVSS-like score as a string) for sorting and filtering.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

pub fn render(report: &Report) -> anyhow::Result<String> {
    let rules: Vec<Value> = report.controls.iter().map(rule).collect();
    let mut results = Vec::new();
    for (i, c) in report.controls.iter().enumerate() {
        for r in &c.results {
            let original = r.waiver.as_ref().map(|w| w.original_verdict);
            let counts = c.gates() && matches!(r.verdict, Verdict::Fail | Verdict::Error)
                || matches!(original, Some(Verdict::Fail | Verdict::Error));
            if counts {
                results.push(result(report, i, c, r));
            }
        }
    }
    let s = &report.summary;
    let mut doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": report.run.complete,
                "startTimeUtc": report.run.started_at.to_string(),
                "endTimeUtc": report.run.finished_at.to_string(),
            }],
            "results": results,
            "properties": { "summary": {
                "controls": s.controls, "pass": s.pass, "fail": s.fail, "error": s.error,
                "waived": s.waived, "n/a": s.not_applicable, "results": s.results.total,
            }},
        }],
    });
    // A control an `[[override]]` skipped is a rule switched off for this run: SARIF's own
    // way to say so is a rule configuration override (`enabled: false`), with the reason, owner
    // and place kept beside it and as a readable notification.
    let skipped: Vec<(usize, &ControlResult, &crate::control::Skip)> = report
        .controls
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.skipped.as_ref().map(|s| (i, c, s)))
        .collect();
    if !skipped.is_empty() {
        let overrides: Vec<Value> = skipped
            .iter()
            .map(|(i, c, s)| {
                json!({
                    "descriptor": { "id": c.id, "index": i },
                    "configuration": { "enabled": false, "level": "none" },
                    "properties": { "verdict": "n/a", "reason": s.reason, "owner": s.owner, "source": s.source },
                })
            })
            .collect();
        let notifications: Vec<Value> = skipped
            .iter()
            .map(|(i, c, s)| {
                json!({
                    "descriptor": { "id": "vouch.skipped" },
                    "associatedRule": { "id": c.id, "index": i },
                    "level": "note",
                    "message": { "text": format!("{} is n/a: {}", c.id, s.describe()) },
                })
            })
            .collect();
        doc["runs"][0]["invocations"][0]["ruleConfigurationOverrides"] = json!(overrides);
        doc["runs"][0]["invocations"][0]["toolConfigurationNotifications"] = json!(notifications);
    }
    let notes = report.context_notes();
    if !notes.is_empty() {
        doc["runs"][0]["properties"]["notes"] = json!(notes);
    }
    let mut out = serde_json::to_string_pretty(&super::canonical_json(doc))?;
    out.push('\n');
    Ok(out)
}

fn rule(c: &ControlResult) -> Value {
    let mut tags: Vec<String> = vec!["security".into()];
    tags.extend(c.tags.iter().cloned());
    for (fw, ids) in &c.frameworks {
        tags.extend(ids.iter().map(|id| format!("{fw}:{id}")));
    }
    let mut rule = json!({
        "id": c.id,
        "shortDescription": { "text": c.title },
        "fullDescription": { "text": if c.claim.is_empty() { &c.title } else { &c.claim } },
        "defaultConfiguration": { "level": level(c.severity) },
        "properties": {
            "tags": tags,
            "severity": c.severity,
            "security-severity": security_severity(c.severity),
            "probe": c.probe,
            "frameworks": c.frameworks,
        },
    });
    if !c.remediation.is_empty() {
        rule["help"] = json!({ "text": c.remediation });
    }
    if let Some(s) = &c.skipped {
        rule["properties"]["skipped"] = json!(s);
    }
    rule
}

/// The control's file and line: a URI relative to the repository root (`%SRCROOT%`) when the
/// path is relative, a `file://` URI otherwise. A report made before sources were recorded points
/// at `vouch.toml`, line 1.
fn physical_location(c: &ControlResult) -> Value {
    let (file, line) = c
        .source
        .as_ref()
        .map_or(("vouch.toml", 1), |s| (s.file.as_str(), s.line.max(1)));
    let artifact = if file.starts_with('/') {
        json!({ "uri": format!("file://{}", uri_path(file)) })
    } else {
        json!({ "uri": uri_path(file), "uriBaseId": "%SRCROOT%" })
    };
    json!({ "artifactLocation": artifact, "region": { "startLine": line } })
}

/// A path as a URI path: every byte outside RFC 3986's unreserved set and `/` percent-encoded.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn result(report: &Report, index: usize, c: &ControlResult, r: &TargetResult) -> Value {
    let original = r.waiver.as_ref().map_or(r.verdict, |w| w.original_verdict);
    let failing: Vec<String> = r
        .checks
        .iter()
        .filter(|k| matches!(k.verdict, Verdict::Fail | Verdict::Error))
        .map(|k| k.describe())
        .collect();
    let mut text = match original {
        Verdict::Error => format!(
            "{} could not be observed for {}: {}",
            r.labelled_target(),
            c.id,
            r.error.clone().unwrap_or_else(|| failing.join("; "))
        ),
        _ => format!(
            "{} fails {}: {}",
            r.labelled_target(),
            c.id,
            failing.join("; ")
        ),
    };
    if original == Verdict::Error {
        if let Some(h) = &r.hint {
            text.push_str(&format!(" (hint: {h})"));
        }
    }
    let fingerprint = hex::encode(Sha256::digest(format!("{}\0{}", c.id, r.labelled_target())));
    let mut props = json!({
        "verdict": r.verdict,
        "severity": c.severity,
        "checks": r.checks,
    });
    if let Some(obs) = report.observation(r) {
        props["observedAt"] = json!(obs.observed_at.to_string());
        props["observation"] = json!(r.observation);
    }
    if let Some(t) = r.expires_at {
        props["expiresAt"] = json!(t.to_string());
    }
    let mut res = json!({
        "ruleId": c.id,
        "ruleIndex": index,
        "kind": "fail",
        "level": level(c.severity),
        "message": { "text": text },
        "locations": [{
            "physicalLocation": physical_location(c),
            "logicalLocations": [{
                "name": r.labelled_target(),
                "fullyQualifiedName": format!("{}:{}", c.probe, r.labelled_target()),
                "kind": "resource",
            }],
        }],
        "partialFingerprints": { "vouchControlTarget/v1": fingerprint },
        "properties": props,
    });
    if let Some(w) = &r.waiver {
        let mut justification = format!(
            "{} (owner {}, approved by {}, expires {})",
            w.reason, w.owner, w.approved_by, w.expires
        );
        if let Some(t) = &w.ticket {
            justification.push_str(&format!(", ticket {t}"));
        }
        res["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": justification,
        }]);
    }
    res
}
