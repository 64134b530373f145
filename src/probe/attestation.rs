//! The attestation probe: a claim no machine can check ("annual penetration test") becomes a
//! dated statement in `attestations.toml` with an evidence file whose SHA-256 is recorded. The
//! control decides how old it may be (`age_days <= 365`), so an attestation expires on its own.
//!
//! ```toml
//! [[attestation]]
//! id = "pentest-2026"
//! statement = "Annual third-party penetration test, remediation tracked to closure"
//! performed_on = 2026-03-14
//! evidence = "evidence/pentest-2026-summary.pdf"   # relative to this file
//! attested_by = "Head of Security"
//! ```

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use jiff::civil::Date;
use sha2::{Digest, Sha256};
use toml::de::DeValue;

use super::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};
use crate::diag::{self, Diagnostics, TableReader};

/// One attested statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Attestation {
    pub id: String,
    pub statement: String,
    pub performed_on: Date,
    /// Resolved against the attestations file's folder.
    pub evidence: PathBuf,
    pub attested_by: String,
    /// Where it was defined (for "unknown attestation id" messages).
    pub span: std::ops::Range<usize>,
}

const FACTS: &[FactSpec] = &[
    fact("statement", FactType::String, "what was attested"),
    fact(
        "performed_on",
        FactType::Date,
        "the day the attested activity was performed",
    ),
    fact(
        "age_days",
        FactType::Integer,
        "whole days since performed_on",
    ),
    fact("attested_by", FactType::String, "who attests it"),
    fact(
        "evidence.path",
        FactType::String,
        "the evidence file, as written in attestations.toml",
    ),
    fact(
        "evidence.exists",
        FactType::Bool,
        "whether the evidence file exists",
    ),
    fact(
        "evidence.sha256",
        FactType::String,
        "SHA-256 of the evidence file (absent when missing)",
    ),
    fact(
        "evidence.bytes",
        FactType::Integer,
        "size of the evidence file in bytes",
    ),
];

/// The latest `performed_on` accepted: today (UTC) plus one day, for the zones ahead of UTC.
fn latest_performed_on() -> Date {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    today.tomorrow().unwrap_or(today)
}

/// Reads and validates `attestations.toml`, reporting every problem to `diags`.
pub fn load(path: &Path, diags: &mut Diagnostics) -> Vec<Attestation> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let file = diags.add_file(path, String::new());
            diags.error(
                file,
                0..0,
                "unreadable-file",
                format!("cannot read attestations {}: {e}", path.display()),
                "set `attestations = \"…\"` in the inventory or pass --attestations FILE",
            );
            return Vec::new();
        }
    };
    parse(path, &text, diags)
}

/// Validates attestations from `text` (the bytes of `path`, already read); problems go to
/// `diags` with `path`'s name. Evidence paths are resolved against `path`'s directory but not read.
pub fn parse(path: &Path, text: &str, diags: &mut Diagnostics) -> Vec<Attestation> {
    let file = diags.add_file(path, text.to_string());
    let Some(doc) = diag::parse_toml(diags, file, text) else {
        return Vec::new();
    };
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut out: Vec<Attestation> = Vec::new();
    let mut top = TableReader::new(file, doc.span(), doc.get_ref());
    if let Some((_, v)) = top.get("attestation") {
        let items = match v.get_ref() {
            DeValue::Array(items) => items.iter().collect::<Vec<_>>(),
            other => {
                diags.error(
                    file,
                    v.span(),
                    "wrong-type",
                    "`attestation` must be an array of tables",
                    format!(
                        "write [[attestation]] tables, found {}",
                        diag::de_kind(other)
                    ),
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
                    "each attestation must be a table",
                    "",
                );
                continue;
            };
            let mut r = TableReader::new(file, item.span(), t);
            let id = r.string(
                diags,
                "id",
                true,
                "a stable id that controls name as their target",
            );
            let statement = r.string(diags, "statement", true, "what is attested");
            let attested_by = r.string(diags, "attested_by", true, "who attests it");
            let evidence = r.string(diags, "evidence", true, "a path to the evidence file");
            let performed_on = match r.get("performed_on") {
                Some((_, v)) => {
                    let parsed = match v.get_ref() {
                        DeValue::Datetime(d) => d.to_string().parse::<Date>().ok(),
                        DeValue::String(s) => s.parse::<Date>().ok(),
                        _ => None,
                    };
                    if parsed.is_none() {
                        diags.error(
                            file,
                            v.span(),
                            "invalid-date",
                            "`performed_on` must be a date",
                            "write a date such as 2026-03-14",
                        );
                    }
                    // Something not yet done is not evidence (and its age would be negative,
                    // passing every `age_days <=`). One day of slack: UTC+14 is a day ahead.
                    let latest = latest_performed_on();
                    if let Some(d) = parsed
                        && d > latest
                    {
                        diags.error(
                            file,
                            v.span(),
                            "future-date",
                            format!("`performed_on = {d}` is in the future"),
                            format!(
                                "an attestation records something already done: write the day it \
                                 was performed, no later than {latest}"
                            ),
                        );
                        continue;
                    }
                    parsed
                }
                None => {
                    r.missing(
                        diags,
                        "performed_on",
                        "the date it was performed, e.g. 2026-03-14",
                    );
                    None
                }
            };
            r.finish(
                diags,
                &["id", "statement", "performed_on", "evidence", "attested_by"],
            );
            if let (
                Some(id),
                Some(statement),
                Some(attested_by),
                Some(evidence),
                Some(performed_on),
            ) = (id, statement, attested_by, evidence, performed_on)
            {
                if let Some(first) = out.iter().find(|a| a.id == *id.get_ref()) {
                    diags
                        .error(
                            file,
                            id.span(),
                            "duplicate-id",
                            format!("attestation id `{}` is defined twice", id.get_ref()),
                            "ids must be unique",
                        )
                        .also(file, first.span.clone(), "first defined here");
                    continue;
                }
                out.push(Attestation {
                    id: id.get_ref().clone(),
                    statement: statement.into_inner(),
                    performed_on,
                    evidence: base.join(evidence.get_ref()),
                    attested_by: attested_by.into_inner(),
                    span: id.span(),
                });
            }
        }
    }
    top.finish(diags, &["attestation"]);
    out
}

/// Observes entries of the attestations file named by the inventory (or `--attestations`).
#[derive(Default)]
pub struct AttestationProbe {
    cache: tokio::sync::OnceCell<Result<Vec<Attestation>, String>>,
}

impl AttestationProbe {
    async fn entries(&self, ctx: &ProbeContext) -> Result<&Vec<Attestation>, ProbeError> {
        let res = self
            .cache
            .get_or_init(|| async {
                let Some(path) = ctx.inventory.attestations.clone() else {
                    return Err("no attestations file is configured".to_string());
                };
                let mut diags = Diagnostics::new();
                let list = load(&path, &mut diags);
                if diags.has_errors() {
                    Err(format!(
                        "{} is invalid:\n{}",
                        path.display(),
                        diags.render_short()
                    ))
                } else {
                    Ok(list)
                }
            })
            .await;
        res.as_ref().map_err(|e| {
            ProbeError::new(ProbeErrorKind::Config, e.clone()).with_hint(
                "set `attestations = \"attestations.toml\"` in vouch.toml or pass --attestations FILE",
            )
        })
    }
}

#[async_trait]
impl Probe for AttestationProbe {
    fn kind(&self) -> &'static str {
        "attestation"
    }

    fn description(&self) -> &'static str {
        "a dated, attested statement with an evidence file (attestations.toml)"
    }

    fn target_syntax(&self) -> &'static str {
        "an attestation id from attestations.toml"
    }

    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }

    fn check_target(&self, target: &str) -> Result<(), String> {
        if target.trim().is_empty() {
            Err("empty attestation id".into())
        } else {
            Ok(())
        }
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let entries = self.entries(ctx).await?;
        let Some(a) = entries.iter().find(|a| a.id == target) else {
            let ids: Vec<&str> = entries.iter().map(|a| a.id.as_str()).collect();
            return Err(ProbeError::new(
                ProbeErrorKind::NotFound,
                format!("no attestation `{target}`"),
            )
            .with_hint(format!("attestations on file: {}", ids.join(", "))));
        };
        let mut obs = Observation::new(self.kind(), target);
        let today = obs
            .observed_at
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        let age = a
            .performed_on
            .until(today)
            .map(|s| i64::from(s.get_days()))
            .unwrap_or(0);
        obs.fact("statement", a.statement.clone())
            .fact("performed_on", a.performed_on.to_string())
            .fact("age_days", age)
            .fact("attested_by", a.attested_by.clone())
            .fact("evidence.path", a.evidence.display().to_string());
        match tokio::fs::read(&a.evidence).await {
            Ok(bytes) => {
                let digest = hex::encode(Sha256::digest(&bytes));
                obs.fact("evidence.exists", true)
                    .fact("evidence.sha256", digest.clone())
                    .fact("evidence.bytes", bytes.len() as u64)
                    .evidence(
                        "evidence_file",
                        serde_json::json!({
                            "path": a.evidence.display().to_string(),
                            "sha256": digest,
                            "bytes": bytes.len(),
                        }),
                    );
            }
            Err(e) => {
                obs.fact("evidence.exists", false)
                    .fact("evidence.sha256", serde_json::Value::Null)
                    .fact("evidence.bytes", serde_json::Value::Null)
                    .evidence(
                        "evidence_file",
                        serde_json::json!({
                            "path": a.evidence.display().to_string(),
                            "error": e.to_string(),
                        }),
                    );
            }
        }
        obs.evidence(
            "attestation",
            serde_json::json!({
                "id": a.id,
                "statement": a.statement,
                "performed_on": a.performed_on.to_string(),
                "attested_by": a.attested_by,
                "source": ctx.inventory.attestations.as_ref().map(|p| p.display().to_string()),
            }),
        );
        Ok(obs)
    }
}
