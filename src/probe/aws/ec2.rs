//! `aws.ec2`: encryption at rest of EBS block storage where it is not the default: each
//! region's EBS encryption-by-default setting, every volume (`encrypted`, `kms_key_id`) and
//! every snapshot the account owns (`encrypted`, and `public` from its create-volume
//! permission). Each observation names its `kind` so one control can scope to volumes,
//! snapshots or region settings with `where`.
//!
//! # Targets
//!
//! - `ebs-default:REGION`: the region's EBS encryption-by-default setting and default KMS key;
//!   `ebs-default:*` expands to every scanned region (`[aws] regions`, default the home region).
//! - `vol-…` / `snap-…`, or their ARNs (`arn:aws:ec2:REGION:ACCOUNT:volume/vol-…`,
//!   `arn:aws:ec2:REGION::snapshot/snap-…`): one volume or snapshot.
//! - `*`: every volume and every snapshot owned by the account (`OwnerIds=self`; public and
//!   shared snapshots of other accounts are not the account's data at rest) in the scanned
//!   regions, every page of DescribeVolumes and DescribeSnapshots; resources outside the home
//!   region are named by ARN.
//!
//! A snapshot is `public` when its `createVolumePermission` grants the group `all`
//! (DescribeSnapshotAttribute): anyone can then create a volume from it and read its data.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{PermissionGroup, SnapshotAttributeName};
use serde_json::{Value, json};

use super::common::{Arn, Col, col, plain_name, render_table, walk_pages};
use super::{ApiCalls, Aws, Session, regional_target, timestamp, unobserved};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "ec2";

/// Items per DescribeVolumes / DescribeSnapshots page (DescribeVolumes takes 5–500,
/// DescribeSnapshots 5–1,000).
const PAGE_SIZE: i32 = 500;
const MIN_PAGE_SIZE: i32 = 5;

/// Prefix of the region-setting target.
const EBS_DEFAULT: &str = "ebs-default:";

const FACTS: &[FactSpec] = &[
    fact(
        "kind",
        FactType::String,
        "ebs-default (a region's EBS setting), volume or snapshot",
    ),
    fact(
        "ebs.encryption_by_default",
        FactType::Bool,
        "ebs-default: new volumes (and snapshot copies) in the region are encrypted whatever the creator asks",
    ),
    fact(
        "ebs.default_kms_key_id",
        FactType::String,
        "ebs-default: the KMS key new volumes are encrypted with (alias/aws/ebs: the AWS-managed key)",
    ),
    fact(
        "state",
        FactType::String,
        "volume: creating, available, in-use, …; snapshot: pending, completed, error, …",
    ),
    fact(
        "encrypted",
        FactType::Bool,
        "volume or snapshot: its data is encrypted at rest (AES-256, KMS)",
    ),
    fact(
        "kms_key_id",
        FactType::String,
        "volume or snapshot: the KMS key encrypting it; null when unencrypted",
    ),
    fact(
        "public",
        FactType::Bool,
        "snapshot: its create-volume permission grants the group `all` (anyone can restore it)",
    ),
    fact(
        "shared_with",
        FactType::StringList,
        "snapshot: the account ids its create-volume permission names",
    ),
];

const SHARING: [&str; 2] = ["public", "shared_with"];

/// What a target names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    EbsDefault(&'a str),
    Volume {
        id: &'a str,
        region: Option<&'a str>,
    },
    Snapshot {
        id: &'a str,
        region: Option<&'a str>,
    },
}

fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn parse_target(target: &str) -> Option<Target<'_>> {
    if !plain_name(target) || target == "*" {
        return None;
    }
    if let Some(region) = target.strip_prefix(EBS_DEFAULT) {
        return crate::inventory::is_region(region).then_some(Target::EbsDefault(region));
    }
    if let Some(arn) = Arn::parse(target) {
        if arn.service != "ec2" {
            return None;
        }
        let region = arn.region();
        return if let Some(id) = arn.resource.strip_prefix("volume/") {
            is_id(id, "vol-").then_some(Target::Volume { id, region })
        } else if let Some(id) = arn.resource.strip_prefix("snapshot/") {
            is_id(id, "snap-").then_some(Target::Snapshot { id, region })
        } else {
            None
        };
    }
    if is_id(target, "vol-") {
        Some(Target::Volume {
            id: target,
            region: None,
        })
    } else if is_id(target, "snap-") {
        Some(Target::Snapshot {
            id: target,
            region: None,
        })
    } else {
        None
    }
}

/// The `aws.ec2` probe.
pub struct Ec2Probe {
    aws: Arc<Aws>,
    page_size: i32,
}

impl Ec2Probe {
    pub fn new(aws: Arc<Aws>) -> Ec2Probe {
        Ec2Probe {
            aws,
            page_size: PAGE_SIZE,
        }
    }

    /// Lists with smaller pages (tests of pagination; EC2 takes no fewer than 5).
    pub fn with_page_size(mut self, page_size: i32) -> Ec2Probe {
        self.page_size = page_size.clamp(MIN_PAGE_SIZE, PAGE_SIZE);
        self
    }

    /// Every volume and every account-owned snapshot of one region, as targets.
    async fn discover_region(
        &self,
        session: &Session,
        ctx: &ProbeContext,
        region: &str,
    ) -> Result<Vec<String>, ProbeError> {
        let ec2: Client = session.client(Some(region));
        let ec2 = &ec2;
        let calls = ApiCalls::default();
        let account = session.identity().map(|i| i.account.clone());
        let name = |id: &str, kind: &str| {
            regional_target(session, region, id, || {
                session.arn("ec2", region, &format!("{kind}/{id}"))
            })
        };
        let mut volumes = Vec::new();
        walk_pages(
            "ec2:DescribeVolumes",
            |token| {
                session.call(&calls, SERVICE, "DescribeVolumes", region, move |c| {
                    ec2.describe_volumes()
                        .max_results(self.page_size)
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                volumes.extend(
                    page.volumes()
                        .iter()
                        .filter_map(|v| v.volume_id())
                        .map(|id| name(id, "volume")),
                );
                page.next_token
            },
        )
        .await?;
        let mut snapshots = Vec::new();
        let mut others = 0usize;
        walk_pages(
            "ec2:DescribeSnapshots",
            |token| {
                session.call(&calls, SERVICE, "DescribeSnapshots", region, move |c| {
                    ec2.describe_snapshots()
                        .owner_ids("self")
                        .max_results(self.page_size)
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                for s in page.snapshots() {
                    // `OwnerIds=self` is asked of the server; checked again where the account
                    // is known, so another account's snapshot is never judged as ours.
                    let ours = match (&account, s.owner_id()) {
                        (Some(a), Some(o)) => a == o,
                        _ => true,
                    };
                    match s.snapshot_id() {
                        Some(id) if ours => snapshots.push(name(id, "snapshot")),
                        _ => others += 1,
                    }
                }
                page.next_token
            },
        )
        .await?;
        volumes.sort();
        volumes.dedup();
        snapshots.sort();
        snapshots.dedup();
        ctx.record_run_info(
            &format!("aws.ec2.discovery.{region}"),
            json!({
                "volumes": volumes.len(),
                "snapshots": snapshots.len(),
                "snapshots_of_other_owners_skipped": others,
                "api_calls": calls.into_summaries(),
            }),
        );
        volumes.extend(snapshots);
        Ok(volumes)
    }

    async fn observe_default(
        &self,
        session: &Session,
        calls: &ApiCalls,
        region: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let ec2: Client = session.client(Some(region));
        // The setting itself: its failure is the observation's (nothing else is asked).
        let out = session
            .call(calls, SERVICE, "GetEbsEncryptionByDefault", region, |c| {
                ec2.get_ebs_encryption_by_default()
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await?;
        obs.fact("kind", "ebs-default");
        match out.ebs_encryption_by_default() {
            Some(on) => obs.fact("ebs.encryption_by_default", on),
            None => obs.unobserved(
                "ebs.encryption_by_default",
                "GetEbsEncryptionByDefault returned no EbsEncryptionByDefault",
            ),
        };
        match session
            .call(calls, SERVICE, "GetEbsDefaultKmsKeyId", region, |c| {
                ec2.get_ebs_default_kms_key_id()
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
        {
            // No key id set: EBS uses the AWS-managed key.
            Ok(k) => {
                obs.fact(
                    "ebs.default_kms_key_id",
                    k.kms_key_id()
                        .filter(|k| !k.is_empty())
                        .unwrap_or("alias/aws/ebs"),
                );
            }
            Err(e) => unobserved(obs, &["ebs.default_kms_key_id"], &e),
        }
        Ok(())
    }

    async fn observe_volume(
        &self,
        session: &Session,
        calls: &ApiCalls,
        region: &str,
        id: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let ec2: Client = session.client(Some(region));
        let out = session
            .call(calls, SERVICE, "DescribeVolumes", region, |c| {
                ec2.describe_volumes()
                    .volume_ids(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "volume", id, region))?;
        let v = out
            .volumes()
            .iter()
            .find(|v| v.volume_id() == Some(id))
            .ok_or_else(|| {
                ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("no EBS volume `{id}` in {region} (DescribeVolumes listed none)"),
                )
            })?;
        obs.fact("kind", "volume");
        obs.fact("state", v.state().map(|s| s.as_str().to_string()));
        encryption(obs, v.encrypted(), v.kms_key_id(), "DescribeVolumes");
        obs.evidence(
            "volume",
            json!({
                "id": id,
                "size_gib": v.size(),
                "type": v.volume_type().map(|t| t.as_str()),
                "availability_zone": v.availability_zone(),
                "snapshot_id": v.snapshot_id().filter(|s| !s.is_empty()),
                "attached_to": v.attachments().iter().filter_map(|a| a.instance_id()).collect::<Vec<_>>(),
                "created": v.create_time().and_then(timestamp).map(|t| t.to_string()),
            }),
        );
        Ok(())
    }

    async fn observe_snapshot(
        &self,
        session: &Session,
        calls: &ApiCalls,
        region: &str,
        id: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let ec2: Client = session.client(Some(region));
        let out = session
            .call(calls, SERVICE, "DescribeSnapshots", region, |c| {
                ec2.describe_snapshots()
                    .snapshot_ids(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "snapshot", id, region))?;
        let s = out
            .snapshots()
            .iter()
            .find(|s| s.snapshot_id() == Some(id))
            .ok_or_else(|| {
                ProbeError::new(
                    ProbeErrorKind::NotFound,
                    format!("no EBS snapshot `{id}` in {region} (DescribeSnapshots listed none)"),
                )
            })?;
        obs.fact("kind", "snapshot");
        obs.fact("state", s.state().map(|s| s.as_str().to_string()));
        encryption(obs, s.encrypted(), s.kms_key_id(), "DescribeSnapshots");
        let attr = session
            .call(calls, SERVICE, "DescribeSnapshotAttribute", region, |c| {
                ec2.describe_snapshot_attribute()
                    .snapshot_id(id)
                    .attribute(SnapshotAttributeName::CreateVolumePermission)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await;
        match attr {
            Ok(a) => {
                let perms = a.create_volume_permissions();
                obs.fact(
                    "public",
                    perms
                        .iter()
                        .any(|p| p.group() == Some(&PermissionGroup::All)),
                );
                let mut accounts: Vec<&str> = perms.iter().filter_map(|p| p.user_id()).collect();
                accounts.sort_unstable();
                accounts.dedup();
                obs.fact("shared_with", json!(accounts));
            }
            Err(e) => unobserved(obs, &SHARING, &e),
        }
        obs.evidence(
            "snapshot",
            json!({
                "id": id,
                "owner": s.owner_id(),
                "volume_id": s.volume_id(),
                "volume_size_gib": s.volume_size(),
                "description": s.description(),
                "started": s.start_time().and_then(timestamp).map(|t| t.to_string()),
            }),
        );
        Ok(())
    }
}

/// `encrypted` and `kms_key_id` of a volume or snapshot; a listing without `Encrypted` leaves
/// both unobserved (never a guess).
fn encryption(obs: &mut Observation, encrypted: Option<bool>, key: Option<&str>, api: &str) {
    match encrypted {
        Some(on) => {
            obs.fact("encrypted", on);
            obs.fact(
                "kms_key_id",
                key.filter(|k| on && !k.is_empty())
                    .map_or(Value::Null, |k| json!(k)),
            );
        }
        None => {
            for f in ["encrypted", "kms_key_id"] {
                obs.unobserved(f, format!("{api} gave no Encrypted flag"));
            }
        }
    }
}

fn not_found(mut e: ProbeError, what: &str, id: &str, region: &str) -> ProbeError {
    if e.kind == ProbeErrorKind::NotFound {
        e.message = format!("no EBS {what} `{id}` in {region} ({})", e.message);
    }
    e
}

#[async_trait]
impl Probe for Ec2Probe {
    fn kind(&self) -> &'static str {
        "aws.ec2"
    }
    fn description(&self) -> &'static str {
        "EBS encryption at rest: a region's encryption-by-default, every volume's and snapshot's encryption, snapshots shared publicly"
    }
    fn target_syntax(&self) -> &'static str {
        "`ebs-default:REGION` (or `ebs-default:*`), a volume or snapshot id or ARN, or `*` for every volume and owned snapshot"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || target == "ebs-default:*" || parse_target(target).is_some() {
            Ok(())
        } else {
            Err(
                "`ebs-default:REGION` (ebs-default:eu-west-1) or `ebs-default:*`, a volume id \
                 (vol-0123…) or snapshot id (snap-0123…) or their ARNs \
                 (arn:aws:ec2:REGION:ACCOUNT:volume/vol-…), or `*`"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:ec2".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*" || target == "ebs-default:*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if !self.is_pattern(pattern) {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        if pattern == "ebs-default:*" {
            return Ok(session
                .scan_regions(ctx)
                .await?
                .iter()
                .map(|r| format!("{EBS_DEFAULT}{r}"))
                .collect());
        }
        let session = &session;
        session
            .per_region(ctx, |region| async move {
                self.discover_region(session, ctx, &region).await
            })
            .await
    }

    async fn observe(
        &self,
        target: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let parsed = parse_target(target).ok_or_else(|| {
            super::common::invalid_target(self.is_pattern(target), self.check_target(target))
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let region = match &parsed {
            Target::EbsDefault(r) => Some(*r),
            Target::Volume { region, .. } | Target::Snapshot { region, .. } => *region,
        }
        .unwrap_or(session.region())
        .to_string();
        let calls = ApiCalls::default();
        let mut obs = Observation::new(self.kind(), target);
        match parsed {
            Target::EbsDefault(_) => {
                self.observe_default(&session, &calls, &region, &mut obs)
                    .await?
            }
            Target::Volume { id, .. } => {
                self.observe_volume(&session, &calls, &region, id, &mut obs)
                    .await?
            }
            Target::Snapshot { id, .. } => {
                self.observe_snapshot(&session, &calls, &region, id, &mut obs)
                    .await?
            }
        }
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
        Some(render_table(observations, "resource", COLUMNS))
    }
}

/// The spot-check table's columns.
const COLUMNS: &[Col] = &[
    col("kind", "kind"),
    col("state", "state"),
    col("encrypted", "encrypted"),
    col("KMS key", "kms_key_id"),
    col("public", "public"),
    col("default on", "ebs.encryption_by_default"),
    col("default key", "ebs.default_kms_key_id"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_region_settings_volumes_or_snapshots() {
        assert_eq!(
            parse_target("ebs-default:eu-west-1"),
            Some(Target::EbsDefault("eu-west-1"))
        );
        assert_eq!(
            parse_target("vol-0abc123"),
            Some(Target::Volume {
                id: "vol-0abc123",
                region: None
            })
        );
        assert_eq!(
            parse_target("arn:aws:ec2:us-west-2::snapshot/snap-0abc"),
            Some(Target::Snapshot {
                id: "snap-0abc",
                region: Some("us-west-2")
            })
        );
        assert_eq!(
            parse_target("arn:aws:ec2:us-west-2:111122223333:volume/vol-1"),
            Some(Target::Volume {
                id: "vol-1",
                region: Some("us-west-2")
            })
        );
        for bad in [
            "",
            "*",
            "ebs-default:",
            "ebs-default:mars",
            "vol-",
            "vol-a/b",
            "i-0123",
            "arn:aws:ec2:eu-west-1:1:instance/i-1",
            "arn:aws:rds:eu-west-1:1:db:x",
            "vol-1 ",
        ] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
        let p = Ec2Probe::new(Aws::new());
        assert!(p.check_target("*").is_ok());
        assert!(p.check_target("ebs-default:*").is_ok());
        assert!(p.is_pattern("ebs-default:*"));
        assert!(!p.is_pattern("ebs-default:eu-west-1"));
        assert!(p.check_target("i-0123").is_err());
    }
}
