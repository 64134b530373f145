//! `--format ocsf`: OCSF 1.5.0 Compliance Findings (class 2003, category 2 "Findings"), as JSON
//! Lines: one record per control × target result, every verdict included (a pass is evidence too).
//!
//! Field by field (documented in `docs/report-schema.md`, "OCSF"):
//! - `type_uid` = `class_uid * 100 + activity_id` = 200301 (activity 1 "Create").
//! - `compliance`: `control` (the control id), `standards` (the frameworks the control maps to,
//!   named: `SOC 2`, `ISO/IEC 27001:2022`, others by their key), `requirements` (their criteria:
//!   SOC 2's first), `status_id` from the verdict: pass → 1 Pass, fail → 3 Fail, error →
//!   2 Warning (OCSF: "did not yield a result due to missing information"), n/a → 99 Other;
//!   a waived result keeps the status of the verdict the waiver covered.
//! - the finding's own `status_id`: 3 Suppressed for a waived result, otherwise 1 New;
//!   `status_code` is vouch's verdict, `status_detail` the failing checks or the error.
//! - `severity_id`: info 1, low 2, medium 3, high 4, critical 5.
//! - `resources[0]`: `uid` the resource's ARN when the observation names one (or the target when
//!   it is an ARN; S3 buckets as `arn:aws:s3:::NAME`), otherwise the target (an endpoint, a
//!   domain); `type` the probe; `region` when the evidence records one; `data.observation` the
//!   observation digest. `cloud` (provider, region, `account.uid`) for AWS probes when the run
//!   recorded which account it examined.
//! - `time` and `finding_info.last_seen_time`: the observation's time (epoch milliseconds), the
//!   run's end when nothing was observed; `finding_info.uid` is stable across runs (SHA-256 of
//!   control id and target, as SARIF's fingerprint), `metadata.uid` unique per run.
//! - `evidences[0].data`: the observation digest, probe and time; `unmapped.vouch`: the checks,
//!   the waiver and the run's notes.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ControlResult, Report, Severity, TargetResult};
use crate::expect::Verdict;

/// The OCSF schema version the records follow.
pub const OCSF_VERSION: &str = "1.5.0";
const CLASS_UID: u32 = 2003;
const CATEGORY_UID: u32 = 2;
const ACTIVITY_CREATE: u32 = 1;

pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut out = String::new();
    let notes = report.context_notes();
    for c in &report.controls {
        for r in &c.results {
            let record = super::canonical_json(finding(report, c, r, &notes));
            out.push_str(&serde_json::to_string(&record)?);
            out.push('\n');
        }
    }
    Ok(out)
}

fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// OCSF compliance status (`compliance.status_id`) of a verdict.
fn compliance_status(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => 1,
        Verdict::Fail => 3,
        Verdict::Error => 2,
        Verdict::NotApplicable | Verdict::Waived => 99,
    }
}

fn standard_name(framework: &str) -> String {
    match framework {
        "soc2" => "SOC 2".into(),
        "iso27001" => "ISO/IEC 27001:2022".into(),
        other => other.to_string(),
    }
}

fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

fn finding(report: &Report, c: &ControlResult, r: &TargetResult, notes: &[String]) -> Value {
    let obs = report.observation(r);
    let time = obs
        .as_ref()
        .map_or(report.run.finished_at, |o| o.observed_at);
    let original = r.waiver.as_ref().map_or(r.verdict, |w| w.original_verdict);
    let status_id = compliance_status(original);
    let (sev_id, sev) = severity(c.severity);

    // SOC 2 first, then the other frameworks in name order.
    let mut frameworks: Vec<(&String, &Vec<String>)> = c.frameworks.iter().collect();
    frameworks.sort_by_key(|(k, _)| (k.as_str() != "soc2", k.to_string()));
    let standards: Vec<String> = frameworks.iter().map(|(k, _)| standard_name(k)).collect();
    let requirements: Vec<String> = frameworks
        .iter()
        .flat_map(|(_, ids)| ids.iter().cloned())
        .collect();
    let mut compliance = json!({
        "control": c.id,
        "standards": standards,
        "status_id": status_id,
    });
    if !requirements.is_empty() {
        compliance["requirements"] = json!(requirements);
    }
    if !c.claim.is_empty() {
        compliance["desc"] = json!(c.claim);
    }

    let detail = detail(r);
    let fingerprint = hex::encode(Sha256::digest(format!("{}\0{}", c.id, r.target)));
    let event_uid = hex::encode(Sha256::digest(format!(
        "{}\0{}\0{}",
        c.id, r.target, report.run.started_at
    )));

    let mut finding_info = json!({
        "uid": fingerprint,
        "title": c.title,
        "types": ["Compliance"],
        "data_sources": [c.probe],
        "created_time": millis(report.run.finished_at),
        "last_seen_time": millis(time),
    });
    if !c.claim.is_empty() {
        finding_info["desc"] = json!(c.claim);
    }

    let (resource, cloud) = resource(report, c, r);
    let mut rec = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "time": millis(time),
        "severity_id": sev_id,
        "severity": sev,
        "status_id": if r.waiver.is_some() { 3 } else { 1 },
        "status": if r.waiver.is_some() { "Suppressed" } else { "New" },
        "status_code": r.verdict.as_str(),
        "message": message(c, r, original, &detail),
        "compliance": compliance,
        "finding_info": finding_info,
        "resources": [resource],
        "metadata": {
            "version": OCSF_VERSION,
            "uid": event_uid,
            "product": {
                "name": report.tool.name,
                "vendor_name": report.tool.name,
                "version": report.tool.version,
            },
        },
    });
    if !detail.is_empty() {
        rec["status_detail"] = json!(detail);
    }
    if let Some(cloud) = cloud {
        rec["cloud"] = cloud;
        rec["metadata"]["profiles"] = json!(["cloud"]);
    }
    if !c.remediation.is_empty() {
        rec["remediation"] = json!({ "desc": c.remediation });
    }
    if let (Some(o), Some(key)) = (obs, &r.observation) {
        rec["evidences"] = json!([{
            "name": "observation",
            "data": {
                "observation": key,
                "probe": o.probe,
                "observed_at": o.observed_at.to_string(),
            },
        }]);
    }
    let mut vouch = json!({ "verdict": r.verdict, "checks": r.checks });
    if let Some(w) = &r.waiver {
        vouch["waiver"] = json!(w);
    }
    if let Some(t) = r.expires_at {
        vouch["expires_at"] = json!(t.to_string());
    }
    if !notes.is_empty() {
        vouch["notes"] = json!(notes);
    }
    rec["unmapped"] = json!({ "vouch": vouch });
    rec
}

/// The failing checks, or why the target could not be observed or is out of scope.
fn detail(r: &TargetResult) -> String {
    let failing: Vec<String> = r
        .checks
        .iter()
        .filter(|k| matches!(k.verdict, Verdict::Fail | Verdict::Error))
        .map(|k| k.describe())
        .collect();
    let mut parts = Vec::new();
    if let Some(e) = &r.error {
        parts.push(e.clone());
    }
    if !failing.is_empty() {
        parts.push(failing.join("; "));
    }
    if let Some(h) = &r.hint {
        parts.push(format!("hint: {h}"));
    }
    parts.join("; ")
}

fn message(c: &ControlResult, r: &TargetResult, original: Verdict, detail: &str) -> String {
    let head = match original {
        Verdict::Pass => format!("{} passes {}", r.target, c.id),
        Verdict::Fail => format!("{} fails {}", r.target, c.id),
        Verdict::Error => format!("{} could not be observed for {}", r.target, c.id),
        Verdict::NotApplicable | Verdict::Waived => {
            format!("{} is outside the scope of {}", r.target, c.id)
        }
    };
    let mut text = if detail.is_empty() {
        head
    } else {
        format!("{head}: {detail}")
    };
    if let Some(w) = &r.waiver {
        text.push_str(&format!(
            " (waived until {} by {}: {})",
            w.expires, w.approved_by, w.reason
        ));
    }
    text
}

/// The resource a result is about (ARN, region, endpoint) and, for AWS probes, the cloud block.
fn resource(report: &Report, c: &ControlResult, r: &TargetResult) -> (Value, Option<Value>) {
    let obs = report.observation(r);
    let is_aws = c.probe.starts_with("aws.");
    let arn = if r.target.starts_with("arn:") {
        Some(r.target.clone())
    } else if r.target.contains('*') {
        // A pattern's own row (the population) is about no one resource.
        None
    } else {
        obs.as_ref()
            .and_then(|o| find_string(&o.evidence, "arn", 3))
            .filter(|a| a.starts_with("arn:"))
            .or_else(|| {
                (c.probe == "aws.s3" && !r.target.contains('*'))
                    .then(|| format!("arn:aws:s3:::{}", r.target))
            })
    };
    let region = obs
        .as_ref()
        .and_then(|o| find_string(&o.evidence, "region", 3))
        .or_else(|| arn.as_deref().and_then(arn_region));
    let mut res = json!({
        "uid": arn.clone().unwrap_or_else(|| r.target.clone()),
        "name": r.target,
        "type": c.probe,
    });
    if let Some(region) = &region {
        res["region"] = json!(region);
    }
    if let Some(partition) = arn.as_deref().and_then(|a| a.split(':').nth(1)) {
        res["cloud_partition"] = json!(partition);
    }
    if let Some(key) = &r.observation {
        res["data"] = json!({ "observation": key });
    }
    let account = arn
        .as_deref()
        .and_then(|a| a.split(':').nth(4))
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .or_else(|| {
            report
                .run
                .context
                .get(crate::probe::aws::CALLER_IDENTITY)
                .and_then(|v| v["account"].as_str())
                .map(str::to_string)
        });
    let cloud = (is_aws && account.is_some()).then(|| {
        let id = account.unwrap_or_default();
        let mut cloud = json!({
            "provider": "AWS",
            "account": { "uid": id, "name": id, "type_id": 10, "type": "AWS Account" },
        });
        if let Some(region) = &region {
            cloud["region"] = json!(region);
        }
        cloud
    });
    (res, cloud)
}

/// The region of a regional ARN (`arn:aws:kms:eu-west-1:…`).
fn arn_region(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// The first string under `key` in `map`, breadth first, at most `depth` objects deep.
fn find_string(map: &serde_json::Map<String, Value>, key: &str, depth: usize) -> Option<String> {
    if let Some(Value::String(s)) = map.get(key) {
        return Some(s.clone());
    }
    let mut level: Vec<&Value> = map.values().collect();
    for _ in 1..depth {
        let mut next = Vec::new();
        for v in level {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(s)) = map.get(key) {
                        return Some(s.clone());
                    }
                    next.extend(map.values());
                }
                Value::Array(items) => next.extend(items.iter()),
                _ => {}
            }
        }
        level = next;
    }
    None
}
