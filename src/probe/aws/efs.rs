//! `aws.efs`: one EFS file system's encryption at rest (`encrypted`, `kms_key_id`), plus
//! discovery of every file system in the scanned regions (`*`, every page of
//! DescribeFileSystems; `[aws] regions`, default the home region).
//!
//! EFS encryption at rest is chosen when a file system is created and cannot be changed
//! afterwards: an unencrypted file system must be copied to a new, encrypted one.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_efs::Client;
use serde_json::{Value, json};

use super::common::{Arn, Col, col, plain_name, render_table, walk_pages};
use super::{ApiCalls, Aws, Session, regional_target, timestamp};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

crate::service_client!(aws_sdk_efs, "elasticfilesystem");

const SERVICE: &str = "elasticfilesystem";

/// File systems per DescribeFileSystems page (the API's default and maximum is 100).
pub(super) const PAGE_SIZE: i32 = 100;

const FACTS: &[FactSpec] = &[
    fact(
        "state",
        FactType::String,
        "creating, available, updating, deleting, deleted, error",
    ),
    fact(
        "encrypted",
        FactType::Bool,
        "the file system's data and metadata are encrypted at rest (set at creation, cannot change)",
    ),
    fact(
        "kms_key_id",
        FactType::String,
        "the KMS key encrypting it (the AWS-managed aws/elasticfilesystem key or a customer key); null when unencrypted",
    ),
    fact(
        "name",
        FactType::String,
        "the file system's Name tag; null when it has none",
    ),
];

fn is_fs_id(s: &str) -> bool {
    s.strip_prefix("fs-")
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The file system id and the region an ARN names.
fn parse_target(target: &str) -> Option<(&str, Option<&str>)> {
    if !plain_name(target) || target == "*" {
        return None;
    }
    match Arn::parse(target) {
        Some(arn) => {
            let id = arn.resource.strip_prefix("file-system/")?;
            (arn.service == "elasticfilesystem" && is_fs_id(id)).then_some((id, arn.region()))
        }
        None => is_fs_id(target).then_some((target, None)),
    }
}

/// The `aws.efs` probe.
pub struct EfsProbe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl EfsProbe {
    pub fn new(aws: Arc<Aws>) -> EfsProbe {
        EfsProbe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> EfsProbe {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }
}

/// Every file system of `region` as (id, ARN), from every page of DescribeFileSystems: the one
/// lister of file systems (`aws.efs` discovery and `aws.backup`'s `coverage:*`).
pub(super) async fn file_systems(
    session: &Session,
    efs: &Client,
    calls: &ApiCalls,
    region: &str,
    page_size: i32,
) -> Result<Vec<(String, String)>, ProbeError> {
    let mut out = Vec::new();
    walk_pages(
        "elasticfilesystem:DescribeFileSystems",
        |marker| {
            session.call(calls, SERVICE, "DescribeFileSystems", region, move |c| {
                efs.describe_file_systems()
                    .max_items(page_size)
                    .set_marker(marker.clone())
                    .customize()
                    .interceptor(c)
                    .send()
            })
        },
        |page| {
            out.extend(page.file_systems().iter().map(|f| {
                let id = f.file_system_id();
                let arn = f
                    .file_system_arn()
                    .map(str::to_string)
                    .unwrap_or_else(|| session.arn(SERVICE, region, &format!("file-system/{id}")));
                (id.to_string(), arn)
            }));
            page.next_marker
        },
    )
    .await?;
    Ok(out)
}

#[async_trait]
impl Probe for EfsProbe {
    fn kind(&self) -> &'static str {
        "aws.efs"
    }
    fn description(&self) -> &'static str {
        "an EFS file system's encryption at rest and its KMS key"
    }
    fn target_syntax(&self) -> &'static str {
        "a file system id (fs-…) or ARN, or `*` for every file system in the scanned regions"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || parse_target(target).is_some() {
            Ok(())
        } else {
            Err("a file system id (fs-0123abcd), a file system ARN \
                 (arn:aws:elasticfilesystem:REGION:ACCOUNT:file-system/fs-…), or `*`"
                .into())
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:efs".into()
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
                let efs: Client = session.client(Some(&region));
                let calls = ApiCalls::default();
                let mut ids: Vec<String> =
                    file_systems(session, &efs, &calls, &region, self.page_size)
                        .await?
                        .into_iter()
                        .map(|(id, arn)| regional_target(session, &region, &id, || arn))
                        .collect();
                ids.sort();
                ids.dedup();
                ctx.record_run_info(
                    &format!("aws.efs.discovery.{region}"),
                    json!({"file_systems": ids.len(), "api_calls": calls.into_summaries()}),
                );
                Ok(ids)
            })
            .await
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let (id, region) = parse_target(target).ok_or_else(|| {
            super::common::invalid_target(target == "*", self.check_target(target))
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let region = region.unwrap_or(session.region()).to_string();
        let efs: Client = session.client(Some(&region));
        let calls = ApiCalls::default();
        let out = session
            .call(&calls, SERVICE, "DescribeFileSystems", &region, |c| {
                efs.describe_file_systems()
                    .file_system_id(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|mut e| {
                if e.kind == ProbeErrorKind::NotFound {
                    e.message = format!("no EFS file system `{id}` in {region} ({})", e.message);
                }
                e
            })?;
        let fs = out
            .file_systems()
            .iter()
            .find(|f| f.file_system_id() == id)
            .ok_or_else(|| {
                ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!(
                        "no EFS file system `{id}` in {region} (DescribeFileSystems listed none)"
                    ),
                )
            })?;
        let mut obs = Observation::new(self.kind(), target);
        obs.fact("state", fs.life_cycle_state().as_str());
        match fs.encrypted() {
            Some(on) => {
                obs.fact("encrypted", on);
                obs.fact(
                    "kms_key_id",
                    fs.kms_key_id()
                        .filter(|k| on && !k.is_empty())
                        .map_or(Value::Null, |k| json!(k)),
                );
            }
            None => {
                for f in ["encrypted", "kms_key_id"] {
                    obs.unobserved(f, "DescribeFileSystems gave no Encrypted flag");
                }
            }
        }
        obs.fact("name", fs.name().filter(|n| !n.is_empty()));
        obs.evidence(
            "file_system",
            json!({
                "id": id,
                "arn": fs.file_system_arn(),
                "creation_token": fs.creation_token(),
                "created": timestamp(fs.creation_time()).map(|t| t.to_string()),
                "performance_mode": fs.performance_mode().as_str(),
            }),
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
        Some(render_table(observations, "file system", COLUMNS))
    }
}

const COLUMNS: &[Col] = &[
    col("name", "name"),
    col("state", "state"),
    col("encrypted", "encrypted"),
    col("KMS key", "kms_key_id"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_ids_arns_or_star() {
        assert_eq!(parse_target("fs-0123abcd"), Some(("fs-0123abcd", None)));
        assert_eq!(
            parse_target("arn:aws:elasticfilesystem:us-west-2:111122223333:file-system/fs-1"),
            Some(("fs-1", Some("us-west-2")))
        );
        for bad in [
            "",
            "*",
            "fs-",
            "fs-a b",
            "vol-1",
            "arn:aws:ec2:r:1:file-system/fs-1",
        ] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
        assert!(EfsProbe::new(Aws::new()).check_target("*").is_ok());
    }
}
