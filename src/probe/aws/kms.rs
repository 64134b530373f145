//! `aws.kms`: one KMS key's kind and state, and its rotation as it really is — whether automatic
//! rotation is on, its configured period, the next scheduled date, and when the key material
//! last changed (the newest automatic or on-demand rotation, or the key's creation) — plus
//! discovery of every key in the scanned regions (`*`; `[aws] regions`, default every region enabled for the account). Keys that cannot rotate (asymmetric, HMAC,
//! imported, AWS-managed, pending deletion) are observed like any other, so a control's
//! `where` can scope them out visibly; this module does not decide which keys matter.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use serde_json::json;

use super::common::walk_pages;
use super::{
    ApiCalls, Aws, age_days, regional_target, show, timestamp, unobserved, unobserved_notes,
};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "kms";

/// Keys per ListKeys page and rotations per ListKeyRotations page (the APIs' maximum).
const PAGE_SIZE: i32 = 1000;

/// Codes with which GetKeyRotationStatus says "this key does not rotate automatically":
/// asymmetric, HMAC and custom-key-store keys (unsupported), and keys pending deletion or import
/// (invalid state; AWS documents their rotation status as off).
const CANNOT_ROTATE: &[&str] = &["UnsupportedOperationException", "KMSInvalidStateException"];

/// The code with which ListKeyRotations says "this kind of key has no rotations". A key in the
/// wrong state is *not* here: its history exists but could not be read, so the facts that need
/// it stay unobserved rather than falling back to the creation date.
const NO_ROTATIONS: &[&str] = &["UnsupportedOperationException"];

const FACTS: &[FactSpec] = &[
    fact(
        "key.state",
        FactType::String,
        "Enabled, Disabled, PendingDeletion, PendingImport, Unavailable, …",
    ),
    fact(
        "key.manager",
        FactType::String,
        "CUSTOMER (yours) or AWS (AWS-managed)",
    ),
    fact(
        "key.spec",
        FactType::String,
        "SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, HMAC_256, …",
    ),
    fact(
        "key.usage",
        FactType::String,
        "ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT",
    ),
    fact(
        "key.origin",
        FactType::String,
        "AWS_KMS, EXTERNAL (imported material), AWS_CLOUDHSM, EXTERNAL_KEY_STORE",
    ),
    fact(
        "key.created",
        FactType::Timestamp,
        "when the key was created",
    ),
    fact(
        "key.age_days",
        FactType::Integer,
        "whole days since the key was created (for imported material, which KMS cannot rotate automatically, the age a control can judge)",
    ),
    fact(
        "key.multi_region_type",
        FactType::String,
        "PRIMARY or REPLICA for a multi-Region key (a replica shares its primary's material, so its rotation facts are the primary's); null for a single-Region key",
    ),
    fact(
        "rotation.manual_only",
        FactType::String,
        "why KMS cannot rotate this key automatically (imported material, a custom key store, an asymmetric or HMAC key); null when automatic rotation is supported",
    ),
    fact(
        "rotation.enabled",
        FactType::Bool,
        "automatic rotation is on (false for keys that cannot rotate)",
    ),
    fact(
        "rotation.period_days",
        FactType::Integer,
        "days between automatic rotations; null when automatic rotation is off",
    ),
    fact(
        "rotation.next_rotation",
        FactType::Timestamp,
        "the next scheduled automatic rotation; null when none is scheduled",
    ),
    fact(
        "rotation.last_rotated",
        FactType::Timestamp,
        "when the key material last changed: the newest rotation (automatic or on-demand), else the key's creation",
    ),
    fact(
        "rotation.age_days",
        FactType::Integer,
        "whole days since rotation.last_rotated",
    ),
];

/// The `aws.kms` probe.
pub struct KmsProbe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl KmsProbe {
    pub fn new(aws: Arc<Aws>) -> KmsProbe {
        KmsProbe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> KmsProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }
}

#[async_trait]
impl Probe for KmsProbe {
    fn kind(&self) -> &'static str {
        "aws.kms"
    }
    fn description(&self) -> &'static str {
        "a KMS key's state and kind, and its rotation: on/off, period, next date, last rotation and age"
    }
    fn target_syntax(&self) -> &'static str {
        "a key id, key ARN, `alias/NAME` or alias ARN, or `*` for every key in the scanned regions"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        let ok = !target.is_empty()
            && target.len() <= 2048
            && !target.chars().any(|c| c.is_whitespace() || c.is_control())
            && (target == "*" || !target.contains('*'));
        if ok {
            Ok(())
        } else {
            Err("a key id (1234abcd-…), a key ARN, alias/NAME, an alias ARN, or `*`".into())
        }
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let session = &session;
        session
            .per_region(ctx, |region| async move {
                let kms: Client = session.client(Some(&region));
                let calls = ApiCalls::default();
                let mut found = Vec::new();
                let kms = &kms;
                walk_pages(
                    "kms:ListKeys",
                    |marker| {
                        session.call(&calls, SERVICE, "ListKeys", &region, move |c| {
                            kms.list_keys()
                                .limit(self.page_size)
                                .set_marker(marker.clone())
                                .customize()
                                .interceptor(c)
                                .send()
                        })
                    },
                    |page| {
                        // A key id in the home region; the key's ARN elsewhere, so it is asked there.
                        found.extend(page.keys().iter().filter_map(|k| {
                            let id = k.key_id()?;
                            Some(regional_target(session, &region, id, || {
                                k.key_arn().map(str::to_string).unwrap_or_else(|| {
                                    session.arn("kms", &region, &format!("key/{id}"))
                                })
                            }))
                        }));
                        page.truncated().then_some(page.next_marker).flatten()
                    },
                )
                .await?;
                found.sort();
                found.dedup();
                ctx.record_run_info(
                    &format!("aws.kms.discovery.{region}"),
                    json!({"keys": found.len(), "api_calls": calls.into_summaries()}),
                );
                Ok(found)
            })
            .await
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        self.check_target(target)
            .map_err(|e| ProbeError::new(ProbeErrorKind::InvalidTarget, e))?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        // A key ARN names its own region; ids and aliases live in the home region.
        let region = arn_region(target).unwrap_or(session.region()).to_string();
        let kms: Client = session.client(Some(&region));
        let calls = ApiCalls::default();

        let described = session
            .call(&calls, SERVICE, "DescribeKey", &region, |c| {
                kms.describe_key()
                    .key_id(target)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|mut e| {
                if e.kind == ProbeErrorKind::NotFound {
                    e.message = format!("no KMS key `{target}` in {region} ({})", e.message);
                }
                e
            })?;
        let meta = described.key_metadata().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::Protocol,
                "DescribeKey returned no KeyMetadata",
            )
        })?;
        let key_id = meta.key_id().to_string();
        // The ARN works for keys of other accounts too, where a bare id would not.
        let mut key_ref = meta.arn().unwrap_or(&key_id).to_string();
        let mut created = meta.creation_date().and_then(timestamp);
        let multi_region = meta.multi_region_configuration();
        let multi_region_type = multi_region
            .and_then(|m| m.multi_region_key_type())
            .map(|t| t.as_str().to_string());
        // A multi-Region replica shares its primary's key material: the material's age and the
        // rotation schedule are the primary's (rotation is managed there), read in its region.
        let mut rotation_source = None;
        let mut kms = kms;
        let mut region = region;
        if multi_region_type.as_deref() == Some("REPLICA") {
            if let Some(primary) = multi_region.and_then(|m| m.primary_key()) {
                if let (Some(arn), Some(primary_region)) = (primary.arn(), primary.region()) {
                    let primary_kms: Client = session.client(Some(primary_region));
                    let p = session
                        .call(&calls, SERVICE, "DescribeKey", primary_region, |c| {
                            primary_kms
                                .describe_key()
                                .key_id(arn)
                                .customize()
                                .interceptor(c)
                                .send()
                        })
                        .await;
                    match p {
                        Ok(p) => {
                            created = p
                                .key_metadata()
                                .and_then(|m| m.creation_date())
                                .and_then(timestamp);
                            key_ref = arn.to_string();
                            kms = primary_kms;
                            region = primary_region.to_string();
                            rotation_source = Some(arn.to_string());
                        }
                        // The primary cannot be read: the replica's own dates would overstate
                        // how fresh the material is, so the rotation facts stay unobserved.
                        Err(e) => {
                            created = {
                                rotation_source =
                                    Some(format!("{arn} (unreadable: {})", e.message));
                                None
                            }
                        }
                    }
                }
            }
        }

        let mut obs = Observation::new(self.kind(), target);
        obs.fact(
            "key.state",
            meta.key_state().map(|s| s.as_str().to_string()),
        );
        obs.fact(
            "key.manager",
            meta.key_manager().map(|s| s.as_str().to_string()),
        );
        obs.fact("key.spec", meta.key_spec().map(|s| s.as_str().to_string()));
        obs.fact(
            "key.usage",
            meta.key_usage().map(|s| s.as_str().to_string()),
        );
        obs.fact("key.origin", meta.origin().map(|s| s.as_str().to_string()));
        obs.fact(
            "key.created",
            meta.creation_date()
                .and_then(timestamp)
                .map(|t| t.to_string()),
        );
        match meta.creation_date().and_then(timestamp) {
            Some(t) => obs.fact("key.age_days", age_days(t)),
            None => obs.unobserved("key.age_days", "DescribeKey gave no CreationDate"),
        };
        obs.fact(
            "rotation.manual_only",
            json!(manual_only(
                meta.origin().map(|o| o.as_str()),
                meta.key_spec().map(|k| k.as_str())
            )),
        );
        obs.fact("key.multi_region_type", multi_region_type.clone());
        if let Some(src) = &rotation_source {
            obs.evidence("rotation_source", json!({"primary": src}));
        }

        let status_call = session.call_optional(
            &calls,
            SERVICE,
            "GetKeyRotationStatus",
            &region,
            CANNOT_ROTATE,
            |c| {
                kms.get_key_rotation_status()
                    .key_id(&key_ref)
                    .customize()
                    .interceptor(c)
                    .send()
            },
        );
        let rotations_call = async {
            let mut newest: Option<jiff::Timestamp> = None;
            let mut newest_type: Option<String> = None;
            let mut count = 0usize;
            let (kms, key_ref) = (&kms, key_ref.as_str());
            walk_pages(
                "kms:ListKeyRotations",
                |marker| {
                    session.call_optional(
                        &calls,
                        SERVICE,
                        "ListKeyRotations",
                        &region,
                        NO_ROTATIONS,
                        move |c| {
                            kms.list_key_rotations()
                                .key_id(key_ref)
                                .limit(self.page_size)
                                .set_marker(marker.clone())
                                .customize()
                                .interceptor(c)
                                .send()
                        },
                    )
                },
                |page| {
                    let page = page?;
                    for r in page.rotations() {
                        count += 1;
                        if let Some(t) = r.rotation_date().and_then(timestamp) {
                            if Some(t) > newest {
                                newest = Some(t);
                                newest_type = r.rotation_type().map(|t| t.as_str().to_string());
                            }
                        }
                    }
                    page.truncated().then_some(page.next_marker).flatten()
                },
            )
            .await?;
            Ok::<_, ProbeError>((newest, count, newest_type))
        };
        let (status, rotations) = tokio::join!(status_call, rotations_call);

        const STATUS: [&str; 3] = [
            "rotation.enabled",
            "rotation.period_days",
            "rotation.next_rotation",
        ];
        match status {
            Ok(None) => {
                // The key cannot rotate automatically (see CANNOT_ROTATE): observed, not missing.
                obs.fact("rotation.enabled", false);
                obs.fact("rotation.period_days", serde_json::Value::Null);
                obs.fact("rotation.next_rotation", serde_json::Value::Null);
            }
            Ok(Some(s)) => {
                if let Some(t) = s.on_demand_rotation_start_date().and_then(timestamp) {
                    obs.evidence("on_demand_rotation_start_date", t.to_string());
                }
                let enabled = s.key_rotation_enabled();
                obs.fact("rotation.enabled", enabled);
                match (enabled, s.rotation_period_in_days()) {
                    (false, _) => {
                        obs.fact("rotation.period_days", serde_json::Value::Null);
                    }
                    (true, Some(days)) => {
                        obs.fact("rotation.period_days", days);
                    }
                    (true, None) => {
                        obs.unobserved(
                            "rotation.period_days",
                            "GetKeyRotationStatus reported rotation on but no RotationPeriodInDays",
                        );
                    }
                }
                match (enabled, s.next_rotation_date().and_then(timestamp)) {
                    (_, Some(t)) => {
                        obs.fact("rotation.next_rotation", t.to_string());
                    }
                    (false, None) => {
                        obs.fact("rotation.next_rotation", serde_json::Value::Null);
                    }
                    (true, None) => {
                        obs.unobserved(
                            "rotation.next_rotation",
                            "GetKeyRotationStatus reported rotation on but no NextRotationDate",
                        );
                    }
                }
            }
            Err(e) => unobserved(&mut obs, &STATUS, &e),
        }

        match (rotations, created) {
            (Ok((newest, count, newest_type)), Some(created)) => {
                let last = newest.map_or(created, |n| n.max(created));
                obs.fact("rotation.last_rotated", last.to_string());
                obs.fact("rotation.age_days", age_days(last));
                obs.evidence("rotations_listed", count);
                if newest.is_some_and(|n| n >= created) {
                    obs.evidence("newest_rotation_type", json!(newest_type));
                }
            }
            (Ok(_), None) => unobserved(
                &mut obs,
                &["rotation.last_rotated", "rotation.age_days"],
                &ProbeError::new(ProbeErrorKind::Protocol, "DescribeKey gave no CreationDate"),
            ),
            (Err(e), _) => unobserved(
                &mut obs,
                &["rotation.last_rotated", "rotation.age_days"],
                &e,
            ),
        }

        obs.evidence(
            "key",
            json!({"key_id": key_id, "arn": meta.arn(), "description": meta.description()}),
        );
        obs.evidence("region", region.as_str());
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(vec![
                "key",
                "state",
                "manager",
                "spec",
                "origin",
                "rotation",
                "period (d)",
                "last rotated",
                "age (d)",
                "next rotation",
            ]);
        for obs in observations {
            let f = |k: &str| show(obs, k);
            let key_id = obs
                .evidence
                .get("key")
                .and_then(|k| k.get("key_id"))
                .and_then(|v| v.as_str())
                .unwrap_or(&obs.target);
            t.add_row(vec![
                if key_id == obs.target {
                    key_id.to_string()
                } else {
                    format!("{} ({key_id})", obs.target)
                },
                f("key.state"),
                f("key.manager"),
                f("key.spec"),
                f("key.origin"),
                match obs.facts.get("rotation.enabled").and_then(|v| v.as_bool()) {
                    Some(true) => "on".into(),
                    Some(false) => "off".into(),
                    None => "?".into(),
                },
                f("rotation.period_days"),
                date_part(&f("rotation.last_rotated")),
                f("rotation.age_days"),
                date_part(&f("rotation.next_rotation")),
            ]);
        }
        Some(format!("{t}\n{}", unobserved_notes(observations)))
    }
}

/// `2026-01-31T10:00:00Z` → `2026-01-31` (a table cell); other text unchanged.
fn date_part(s: &str) -> String {
    match s.split_once('T') {
        Some((d, _)) if d.len() == 10 => d.to_string(),
        _ => s.to_string(),
    }
}

/// The region of a KMS key or alias ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
fn arn_region(target: &str) -> Option<&str> {
    let mut parts = target.split(':');
    (parts.next()? == "arn").then_some(())?;
    parts.next()?; // partition
    (parts.next()? == "kms").then_some(())?;
    parts.next().filter(|r| !r.is_empty())
}

/// Why KMS cannot rotate a key automatically (AWS KMS developer guide, "Rotating keys":
/// automatic rotation is for symmetric encryption keys with KMS-generated material only).
pub fn manual_only(origin: Option<&str>, spec: Option<&str>) -> Option<&'static str> {
    match origin {
        Some("EXTERNAL") => return Some("imported material: rotate on demand"),
        Some("AWS_CLOUDHSM") | Some("EXTERNAL_KEY_STORE") => {
            return Some("custom key store: KMS cannot rotate it automatically");
        }
        _ => {}
    }
    match spec {
        Some("SYMMETRIC_DEFAULT") | None => None,
        Some(_) => Some("asymmetric or HMAC key: KMS cannot rotate it automatically"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_name_their_region() {
        assert_eq!(
            arn_region("arn:aws:kms:us-west-2:111122223333:key/1234abcd"),
            Some("us-west-2")
        );
        assert_eq!(
            arn_region("arn:aws-cn:kms:cn-north-1:111122223333:alias/x"),
            Some("cn-north-1")
        );
        assert_eq!(arn_region("alias/x"), None);
        assert_eq!(arn_region("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
    }

    #[test]
    fn targets_are_ids_arns_aliases_or_star() {
        let p = KmsProbe::new(Aws::new());
        assert!(p.check_target("*").is_ok());
        assert!(p.check_target("alias/prod").is_ok());
        assert!(
            p.check_target("1234abcd-12ab-34cd-56ef-1234567890ab")
                .is_ok()
        );
        assert!(p.check_target("alias/pro*").is_err());
        assert!(p.check_target("").is_err());
        assert!(p.check_target("a b").is_err());
    }
}
