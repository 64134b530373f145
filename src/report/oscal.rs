//! `--format oscal`: NIST OSCAL 1.2.3 assessment-results (JSON). One `result` for the run, with:
//! - an `observation` per probe observation (`collected` = when it was made, `expires` = when the
//!   earliest result relying on it stops accepting it, `expires_at` from the controls' `max_age`), linked to
//!   its evidence in `back-matter`;
//! - a `finding` per control (objective satisfied or not, the verdict per target, its criteria);
//! - a `risk` per waiver (status `deviation-approved`, `deadline` = the waiver's expiry);
//! - `back-matter` resources carrying the SHA-256 of every observation and attachment, with the
//!   paths they have in an evidence bundle (`observations/sha256-….json`).
//!
//! UUIDs are RFC 4122 version-5 (name-based, SHA-1) UUIDs, so the same report always renders to
//! the same document and anyone can recompute them: the namespace is [`NAMESPACE`] (itself the
//! v5 UUID of the URL `https://vouch.dev/ns/oscal` in RFC 4122's URL namespace), and the name is
//! `<report digest>/<kind>/<part>…`: the hex SHA-256 of the JSON report with its keys sorted and
//! no whitespace, then the object's kind and parts joined by `/` (`…/finding/ENC-TRANSIT-TLS12`,
//! `…/observation/sha256:…`, `…/risk/<control>/<target>`, `…/result`, `…/document`, `…/plan`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ControlResult, Report, TargetResult};
use crate::expect::Verdict;

const OSCAL_VERSION: &str = "1.2.3";
/// Namespace of vouch's own property names (OSCAL asks for one on non-OSCAL names).
const NS: &str = "https://vouch.dev/ns/oscal";

/// The namespace of vouch's OSCAL UUIDs: `uuid5(NAMESPACE_URL, "https://vouch.dev/ns/oscal")`
/// = `b5d2718a-0b5c-56b1-a148-2a476ba7b671` (see the module docs; a test recomputes it).
pub fn namespace() -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, NS.as_bytes())
}

/// Deterministic UUIDs for one report (see the module docs).
struct Uuids {
    /// The report's digest, hex.
    digest: String,
    namespace: uuid::Uuid,
}

impl Uuids {
    fn of(&self, parts: &[&str]) -> String {
        let mut name = self.digest.clone();
        for p in parts {
            name.push('/');
            name.push_str(p);
        }
        uuid::Uuid::new_v5(&self.namespace, name.as_bytes()).to_string()
    }
}

/// An OSCAL string: one line, no leading or trailing whitespace, never empty.
fn line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() { "(none)".into() } else { s }
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "ns": NS, "value": line(value) })
}

fn ts(t: Timestamp) -> String {
    // OSCAL wants a timezone; jiff prints UTC as `Z`.
    t.to_string()
}

fn hex_of(key: &str) -> &str {
    key.strip_prefix("sha256:").unwrap_or(key)
}

pub fn render(report: &Report) -> anyhow::Result<String> {
    let canonical = super::canonical_json(serde_json::to_value(report)?);
    let ids = Uuids {
        digest: hex::encode(Sha256::digest(serde_json::to_vec(&canonical)?)),
        namespace: namespace(),
    };

    // When each observation stops being acceptable evidence: the earliest expiry of the results
    // relying on it.
    let mut expires: BTreeMap<&str, Timestamp> = BTreeMap::new();
    for c in &report.controls {
        for r in &c.results {
            if let (Some(k), Some(t)) = (&r.observation, r.expires_at) {
                expires
                    .entry(k.as_str())
                    .and_modify(|e| *e = (*e).min(t))
                    .or_insert(t);
            }
        }
    }

    let mut resources = Vec::new();
    let plan_uuid = ids.of(&["plan"]);
    resources.push(json!({
        "uuid": plan_uuid,
        "title": "vouch control set (stands in for an assessment plan)",
        "description": format!(
            "The {} controls this run evaluated; each finding's target-id is a control id.",
            report.controls.len()
        ),
    }));

    let mut observations = Vec::new();
    // One observation read back from the store at a time.
    for (key, obs) in report.observations.iter() {
        let hex = hex_of(key);
        let evidence_uuid = ids.of(&["evidence", key]);
        resources.push(json!({
            "uuid": evidence_uuid,
            "title": line(&format!("Observation: {} {}", obs.probe, obs.target)),
            "props": [prop("observation", key)],
            "rlinks": [{
                "href": crate::bundle::observation_path(key),
                "media-type": "application/json",
                "hashes": [{ "algorithm": "SHA-256", "value": hex }],
            }],
        }));
        let mut evidence = vec![json!({
            "href": format!("#{evidence_uuid}"),
            "description": format!(
                "The {} probe's facts and raw evidence for {} (SHA-256 {hex}).",
                obs.probe, obs.target
            ),
        })];
        for a in &obs.attachments {
            let digest = hex::encode(Sha256::digest(a.content.as_bytes()));
            let uuid = ids.of(&["attachment", key, &a.name]);
            resources.push(json!({
                "uuid": uuid,
                "title": line(&format!("Attachment: {}", a.name)),
                "rlinks": [{
                    "href": crate::bundle::attachment_path(a),
                    "media-type": line(&a.media_type),
                    "hashes": [{ "algorithm": "SHA-256", "value": digest }],
                }],
            }));
            evidence.push(json!({
                "href": format!("#{uuid}"),
                "description": format!("{} ({}), verbatim.", a.name, a.media_type),
            }));
        }
        let mut facts: Vec<String> = obs
            .facts
            .iter()
            .map(|(k, v)| format!("- `{k}` = `{}`", crate::expect::display_json(v)))
            .collect();
        facts.extend(
            obs.unobserved
                .iter()
                .map(|(k, why)| format!("- `{k}` not observed: {why}")),
        );
        let mut o = json!({
            "uuid": ids.of(&["observation", key]),
            "title": line(&format!("{} {}", obs.probe, obs.target)),
            "description": format!(
                "What the {} probe observed of {}:\n\n{}",
                obs.probe,
                obs.target,
                facts.join("\n")
            ),
            "props": [
                prop("probe", &obs.probe),
                prop("target", &obs.target),
                prop("duration-ms", &obs.duration_ms.to_string()),
            ],
            "methods": ["TEST"],
            "relevant-evidence": evidence,
            "collected": ts(obs.observed_at),
        });
        if let Some(a) = &obs.account {
            // Which AWS account, in a multi-account run.
            if let Some(props) = o["props"].as_array_mut() {
                props.push(prop("aws-account", &a.id));
                if let Some(n) = &a.name {
                    props.push(prop("aws-account-name", n));
                }
            }
            o["title"] = json!(line(&format!(
                "{} {} @ {}",
                obs.probe,
                obs.target,
                a.label()
            )));
        }
        if let Some(t) = expires.get(key.as_str()) {
            o["expires"] = json!(ts(*t));
        }
        observations.push(o);
    }

    let mut risks = Vec::new();
    let mut findings = Vec::new();
    for c in &report.controls {
        let mut related_risks = Vec::new();
        for r in &c.results {
            if let Some(w) = &r.waiver {
                let uuid = ids.of(&["risk", &c.id, &r.labelled_target()]);
                related_risks.push(json!({ "risk-uuid": uuid }));
                risks.push(risk(&uuid, c, r, w, &ids));
            }
        }
        findings.push(finding(c, &ids, related_risks));
    }

    let mut result = json!({
        "uuid": ids.of(&["result"]),
        "title": "vouch check",
        "description": format!(
            "vouch checked {} controls: {} results (control × target), {} pass, {} fail, {} error, {} waived, {} n/a.",
            report.summary.controls,
            report.summary.results.total,
            report.summary.results.pass,
            report.summary.results.fail,
            report.summary.results.error,
            report.summary.results.waived,
            report.summary.results.not_applicable,
        ),
        "start": ts(report.run.started_at),
        "end": ts(report.run.finished_at),
        "props": [
            prop("complete", if report.run.complete { "true" } else { "false" }),
            prop("fail-on", report.run.fail_on.as_str()),
        ],
        "reviewed-controls": { "control-selections": [ {
            "include-controls": report.controls.iter()
                .map(|c| json!({ "control-id": c.id }))
                .collect::<Vec<_>>(),
        } ] },
        "findings": findings,
    });
    if report.controls.is_empty() {
        result["reviewed-controls"] = json!({ "control-selections": [ { "include-all": {} } ] });
        result.as_object_mut().expect("object").remove("findings");
    }
    if !observations.is_empty() {
        result["observations"] = json!(observations);
    }
    let notes = report.context_notes();
    if !notes.is_empty() {
        result["remarks"] = json!(notes.join("\n\n"));
    }
    if !risks.is_empty() {
        result["risks"] = json!(risks);
    }

    let doc = json!({ "assessment-results": {
        "uuid": ids.of(&["document"]),
        "metadata": {
            "title": "vouch assessment results",
            "last-modified": ts(report.run.finished_at),
            "version": line(&format!("{} {}", report.tool.name, report.tool.version)),
            "oscal-version": OSCAL_VERSION,
            "props": [prop("report-schema", &report.schema)],
        },
        "import-ap": {
            "href": format!("#{plan_uuid}"),
            "remarks": "vouch has no separate assessment plan: the controls of the run are the plan.",
        },
        "results": [result],
        "back-matter": { "resources": resources },
    }});
    let mut out = serde_json::to_string_pretty(&super::canonical_json(doc))?;
    out.push('\n');
    Ok(out)
}

fn finding(c: &ControlResult, ids: &Uuids, related_risks: Vec<Value>) -> Value {
    let (state, reason) = match c.verdict {
        Verdict::Pass => ("satisfied", "pass"),
        Verdict::Fail => ("not-satisfied", "fail"),
        // Fail closed: evidence that could not be gathered never satisfies an objective, a
        // waiver accepts a risk rather than satisfying the objective, and a control that was
        // not applicable (or examined nothing) proved nothing either.
        Verdict::Error | Verdict::Waived | Verdict::NotApplicable => ("not-satisfied", "other"),
    };
    let lines: Vec<String> = c
        .results
        .iter()
        .map(|r| {
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
            let mut s = format!("- {}: {}", r.labelled_target(), r.verdict);
            if !detail.is_empty() {
                s.push_str(&format!(" — {}", detail.join("; ")));
            }
            s
        })
        .collect();
    let claim = if c.claim.is_empty() {
        &c.title
    } else {
        &c.claim
    };
    let mut props = vec![
        prop("verdict", c.verdict.as_str()),
        prop("severity", c.severity.as_str()),
        prop("probe", &c.probe),
    ];
    if let Some(s) = &c.skipped {
        props.push(prop("skipped-reason", &s.reason));
        if let Some(o) = &s.owner {
            props.push(prop("skipped-owner", o));
        }
        props.push(prop("skipped-by", &s.source));
    }
    for (fw, crit) in &c.frameworks {
        for id in crit {
            props.push(
                json!({ "name": "criterion", "ns": NS, "class": line(fw), "value": line(id) }),
            );
        }
    }
    let related_obs: Vec<Value> = c
        .results
        .iter()
        .filter_map(|r| r.observation.as_ref())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|k| json!({ "observation-uuid": ids.of(&["observation", k]) }))
        .collect();
    let mut f = json!({
        "uuid": ids.of(&["finding", &c.id]),
        "title": line(&format!("{}: {}", c.id, c.title)),
        "description": format!("{claim}\n\n{}", lines.join("\n")),
        "props": props,
        "target": {
            "type": "objective-id",
            "target-id": c.id,
            "status": { "state": state, "reason": reason },
        },
    });
    if !related_obs.is_empty() {
        f["related-observations"] = json!(related_obs);
    }
    if !related_risks.is_empty() {
        f["related-risks"] = json!(related_risks);
    }
    if !c.remediation.is_empty() {
        f["remarks"] = json!(format!("Remediation: {}", c.remediation));
    }
    f
}

fn risk(
    uuid: &str,
    c: &ControlResult,
    r: &TargetResult,
    w: &super::AppliedWaiver,
    ids: &Uuids,
) -> Value {
    let failing: Vec<String> = r
        .checks
        .iter()
        .filter(|k| k.verdict != Verdict::Pass)
        .map(|k| k.describe())
        .collect();
    let mut props = vec![
        prop("owner", &w.owner),
        prop("approved-by", &w.approved_by),
        prop("original-verdict", w.original_verdict.as_str()),
    ];
    if let Some(t) = &w.ticket {
        props.push(prop("ticket", t));
    }
    let mut risk = json!({
        "uuid": uuid,
        "title": line(&format!("Waived: {} on {}", c.id, r.labelled_target())),
        "description": w.reason,
        "statement": format!(
            "{} was {} on {}{}. Accepted by {} until {}.",
            c.id,
            w.original_verdict,
            r.target,
            if failing.is_empty() { String::new() } else { format!(" ({})", failing.join("; ")) },
            w.approved_by,
            w.expires
        ),
        "props": props,
        "status": "deviation-approved",
        "deadline": format!("{}T00:00:00Z", w.expires),
    });
    if let Some(k) = &r.observation {
        risk["related-observations"] = json!([{ "observation-uuid": ids.of(&["observation", k]) }]);
    }
    risk
}
