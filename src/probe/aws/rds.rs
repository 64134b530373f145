//! `aws.rds`: one RDS DB instance's or DB cluster's (Aurora, Multi-AZ DB cluster) recovery and
//! exposure: automated-backup retention, the latest restorable time and how far it lags now,
//! storage encryption, Multi-AZ, public accessibility, deletion protection and engine, plus
//! discovery of every instance and cluster in the scanned regions (`*`, every page of both
//! listings; `[aws] regions`, default every region enabled for the account).
//!
//! # Targets
//!
//! - `NAME` or `arn:aws:rds:REGION:ACCOUNT:db:NAME`: a DB instance.
//! - `cluster:NAME` or `arn:aws:rds:REGION:ACCOUNT:cluster:NAME`: a DB cluster.
//! - `*`: every cluster (as `cluster:NAME`) and every instance that is not a cluster member.
//! - `snapshot:ID` or `arn:aws:rds:REGION:ACCOUNT:snapshot:ID`: a DB (instance) snapshot;
//!   `cluster-snapshot:ID` or `…:cluster-snapshot:ID`: a DB cluster snapshot. `snapshot:*` and
//!   `cluster-snapshot:*` expand to every snapshot of the kind the account owns in the scanned
//!   regions (manual and automated, every page). A snapshot's facts are `encrypted`,
//!   `kms_key_id`, `public` (its `restore` attribute includes `all`: any AWS account can
//!   restore it) and `shared_with` (the accounts it names), with `kind` = `snapshot` or
//!   `cluster-snapshot`.
//!
//! A cluster member's backups, point-in-time recovery, encryption and Multi-AZ belong to its
//! cluster (an Aurora instance has no restorable time of its own, and is never "Multi-AZ"), so
//! `*` examines each cluster once instead of each member wrongly. Exposure is per instance
//! in Aurora; a cluster's `publicly_accessible` is therefore true when *any* member instance is
//! publicly accessible or the cluster's own flag (Multi-AZ DB clusters) says so, with the
//! members listed in the evidence. DescribeDBInstances and
//! DescribeDBClusters also return Neptune and DocumentDB resources; `engine` lets a control's
//! `where` scope them.
//!
//! In transit: `tls.required` and `tls.minimum_protocol` come from the database's parameter
//! group, per engine family (see [`tls`]); `ca_certificate_identifier` names the CA of the
//! server certificate clients verify.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbCluster, DbInstance, Filter};
use serde_json::{Value, json};

use super::common::{Arn, Col, col, lag, plain_name, render_table, walk_pages};
use super::{ApiCalls, Aws, Session, regional_target, timestamp, unobserved};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

mod tls;

crate::service_client!(aws_sdk_rds, "rds");

const SERVICE: &str = "rds";

/// Records per DescribeDBInstances / DescribeDBClusters page (the API takes 20–100).
pub(super) const PAGE_SIZE: i32 = 100;
const MIN_PAGE_SIZE: i32 = 20;

/// Prefix that makes a target a DB cluster.
const CLUSTER: &str = "cluster:";
/// Prefixes of DB snapshot and DB cluster snapshot targets.
const SNAPSHOT: &str = "snapshot:";
const CLUSTER_SNAPSHOT: &str = "cluster-snapshot:";

const FACTS: &[FactSpec] = &[
    fact(
        "kind",
        FactType::String,
        "instance (a DB instance) or cluster (an Aurora or Multi-AZ DB cluster)",
    ),
    fact(
        "engine",
        FactType::String,
        "postgres, mysql, aurora-postgresql, aurora-mysql, sqlserver-ee, neptune, docdb, …",
    ),
    fact(
        "status",
        FactType::String,
        "available, creating, stopped, backing-up, …",
    ),
    fact(
        "replica_of",
        FactType::String,
        "a read replica's source (instance: ReadReplicaSourceDBInstanceIdentifier; cluster: ReplicationSourceIdentifier); null when it is not a replica",
    ),
    fact(
        "backup.retention_days",
        FactType::Integer,
        "days automated backups are kept (0: automated backups off)",
    ),
    fact(
        "pitr.latest_restorable_time",
        FactType::Timestamp,
        "the latest time the database can be restored to; null when there is none (automated backups off, or none yet)",
    ),
    fact(
        "pitr.lag",
        FactType::Duration,
        "how far the latest restorable time is behind now (a control says `within \"15m\"`); null when there is none",
    ),
    fact(
        "storage.encrypted",
        FactType::Bool,
        "storage (and so its automated backups and snapshots) is encrypted at rest",
    ),
    fact(
        "storage.kms_key_id",
        FactType::String,
        "the KMS key encrypting storage; null when unencrypted",
    ),
    fact(
        "multi_az",
        FactType::Bool,
        "a standby or replicas in another Availability Zone (instance: MultiAZ; cluster: instances in several AZs)",
    ),
    fact(
        "publicly_accessible",
        FactType::Bool,
        "reachable from the internet by DNS (a cluster: its own flag or any member instance)",
    ),
    fact(
        "deletion_protection",
        FactType::Bool,
        "the database cannot be deleted until protection is turned off",
    ),
    fact(
        "tls.required",
        FactType::Bool,
        "the parameter group refuses connections without TLS: rds.force_ssl (PostgreSQL, SQL Server) or require_secure_transport (MySQL, MariaDB, Aurora MySQL); unobserved for other engines, and a `true` from an instance's group that is pending-reboot is unobserved (maybe not in effect)",
    ),
    fact(
        "tls.minimum_protocol",
        FactType::Protocol,
        "the lowest TLS version the parameter group allows: tls_version (MySQL family) or ssl_min_protocol_version (PostgreSQL); unobserved where the engine has no such parameter or leaves it at its default",
    ),
    fact(
        "ca_certificate_identifier",
        FactType::String,
        "the CA of the server certificate (rds-ca-rsa2048-g1, …); a cluster: its own, or its members' when they agree",
    ),
    fact(
        "encrypted",
        FactType::Bool,
        "snapshot or cluster-snapshot: its data is encrypted at rest",
    ),
    fact(
        "kms_key_id",
        FactType::String,
        "snapshot or cluster-snapshot: the KMS key encrypting it; null when unencrypted",
    ),
    fact(
        "public",
        FactType::Bool,
        "snapshot or cluster-snapshot: its `restore` attribute includes `all` (any AWS account can restore it)",
    ),
    fact(
        "shared_with",
        FactType::StringList,
        "snapshot or cluster-snapshot: the account ids its `restore` attribute names",
    ),
    fact(
        "snapshot_type",
        FactType::String,
        "snapshot or cluster-snapshot: manual, automated, awsbackup, shared or public",
    ),
];

const SHARING: [&str; 2] = ["public", "shared_with"];

/// What a target names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Instance {
        id: &'a str,
        region: Option<&'a str>,
    },
    Cluster {
        id: &'a str,
        region: Option<&'a str>,
    },
    Snapshot {
        id: &'a str,
        region: Option<&'a str>,
    },
    ClusterSnapshot {
        id: &'a str,
        region: Option<&'a str>,
    },
}

/// A snapshot target (`snapshot:ID`, `cluster-snapshot:ID` or either's ARN); `None` for
/// anything else. The identifier is the snapshot's id, the ARN only says the region.
fn parse_snapshot(target: &str) -> Option<Target<'_>> {
    let (rest, region) = match Arn::parse(target) {
        Some(arn) if arn.service == "rds" => (arn.resource, arn.region()),
        Some(_) => return None,
        None => (target, None),
    };
    if let Some(id) = rest.strip_prefix(CLUSTER_SNAPSHOT) {
        (!id.is_empty() && id != "*").then_some(Target::ClusterSnapshot { id, region })
    } else if let Some(id) = rest.strip_prefix(SNAPSHOT) {
        (!id.is_empty() && id != "*").then_some(Target::Snapshot { id, region })
    } else {
        None
    }
}

fn parse_target(target: &str) -> Option<Target<'_>> {
    if !plain_name(target) || target == "*" {
        return None;
    }
    if let Some(snapshot) = parse_snapshot(target) {
        return Some(snapshot);
    }
    if let Some(arn) = Arn::parse(target) {
        if arn.service != "rds" {
            return None;
        }
        // The APIs take the whole ARN as the identifier; the region says where to ask.
        return if let Some(name) = arn.resource.strip_prefix("db:") {
            (!name.is_empty()).then_some(Target::Instance {
                id: target,
                region: arn.region(),
            })
        } else if let Some(name) = arn.resource.strip_prefix(CLUSTER) {
            (!name.is_empty()).then_some(Target::Cluster {
                id: target,
                region: arn.region(),
            })
        } else {
            None
        };
    }
    if target.starts_with("arn:") {
        return None;
    }
    match target.strip_prefix(CLUSTER) {
        Some("") => None,
        Some(id) => Some(Target::Cluster { id, region: None }),
        None if target.contains(':') => None,
        None => Some(Target::Instance {
            id: target,
            region: None,
        }),
    }
}

/// The `aws.rds` probe.
pub struct RdsProbe {
    aws: Arc<Aws>,
    page_size: i32,
    /// Parameter groups, each read once per run.
    groups: tls::Groups,
}

impl RdsProbe {
    pub fn new(aws: Arc<Aws>) -> RdsProbe {
        RdsProbe {
            aws,
            page_size: PAGE_SIZE,
            groups: tls::Groups::default(),
        }
    }

    /// Lists with smaller pages (tests of pagination; RDS takes no fewer than 20).
    pub fn with_page_size(mut self, page_size: i32) -> RdsProbe {
        self.page_size = page_size.clamp(MIN_PAGE_SIZE, PAGE_SIZE);
        self
    }

    /// Every page of DescribeDBInstances, optionally only one cluster's members.
    async fn instances(
        &self,
        session: &Session,
        rds: &Client,
        calls: &ApiCalls,
        region: &str,
        cluster: Option<&str>,
    ) -> Result<Vec<DbInstance>, ProbeError> {
        describe_instances(session, rds, calls, region, cluster, self.page_size).await
    }

    /// Every cluster's target (its identifier at home, its ARN elsewhere).
    async fn clusters(
        &self,
        session: &Session,
        rds: &Client,
        calls: &ApiCalls,
        region: &str,
    ) -> Result<Vec<String>, ProbeError> {
        let clusters = describe_clusters(session, rds, calls, region, self.page_size).await?;
        Ok(clusters
            .iter()
            .filter_map(|c| {
                let id = c.db_cluster_identifier()?;
                let target = format!("{CLUSTER}{id}");
                Some(regional_target(session, region, &target, || {
                    c.db_cluster_arn()
                        .map(str::to_string)
                        .unwrap_or_else(|| session.arn("rds", region, &target))
                }))
            })
            .collect())
    }

    async fn observe_instance(
        &self,
        session: &Arc<Session>,
        rds: &Client,
        calls: &ApiCalls,
        region: &str,
        id: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let out = session
            .call(calls, SERVICE, "DescribeDBInstances", region, |c| {
                rds.describe_db_instances()
                    .db_instance_identifier(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "DB instance", id, region))?;
        let db = out.db_instances().first().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::NotFound,
                format!("no DB instance `{id}` in {region} (DescribeDBInstances listed none)"),
            )
        })?;
        obs.fact("kind", "instance");
        obs.fact("engine", db.engine());
        obs.fact("status", db.db_instance_status());
        obs.fact("replica_of", instance_replica_of(db));
        obs.fact("backup.retention_days", db.backup_retention_period());
        restorable(
            obs,
            db.backup_retention_period(),
            db.latest_restorable_time(),
        );
        obs.fact("storage.encrypted", db.storage_encrypted());
        obs.fact(
            "storage.kms_key_id",
            db.kms_key_id()
                .filter(|_| db.storage_encrypted() == Some(true)),
        );
        obs.fact("multi_az", db.multi_az());
        obs.fact("publicly_accessible", db.publicly_accessible());
        obs.fact("deletion_protection", db.deletion_protection());
        obs.fact("ca_certificate_identifier", db.ca_certificate_identifier());
        if db.db_cluster_identifier().is_some()
            && db.engine().is_some_and(|e| e.starts_with("aurora"))
        {
            // An Aurora member's TLS settings are its cluster parameter group's.
            let why = format!(
                "an Aurora cluster member: TLS is set in its cluster's parameter group (target cluster:{})",
                db.db_cluster_identifier().unwrap_or_default()
            );
            obs.unobserved(tls::REQUIRED, why.clone());
            obs.unobserved(tls::MINIMUM, why);
        } else {
            let group = db
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name());
            tls::record(
                obs,
                &self.groups,
                session,
                calls,
                region,
                db.engine(),
                group,
                false,
            )
            .await;
            // A group attached (or a static parameter changed) but not yet in effect: its
            // `true` is a promise about the next reboot, not what the server enforces now.
            let status = db
                .db_parameter_groups()
                .first()
                .and_then(|g| g.parameter_apply_status());
            if status == Some("pending-reboot")
                && obs.facts.get(tls::REQUIRED) == Some(&Value::Bool(true))
            {
                obs.unobserved(
                    tls::REQUIRED,
                    "the parameter group is pending-reboot: its settings may not be in effect yet",
                );
            }
        }
        obs.evidence(
            "database",
            json!({
                "kind": "instance",
                "identifier": db.db_instance_identifier(),
                "arn": db.db_instance_arn(),
                "engine_version": db.engine_version(),
                "class": db.db_instance_class(),
                "availability_zone": db.availability_zone(),
                "secondary_availability_zone": db.secondary_availability_zone(),
                // A member's backups and PITR are its cluster's: name it so a reader looks there.
                "cluster": db.db_cluster_identifier(),
            }),
        );
        Ok(())
    }

    async fn observe_cluster(
        &self,
        session: &Arc<Session>,
        rds: &Client,
        calls: &ApiCalls,
        region: &str,
        id: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let out = session
            .call(calls, SERVICE, "DescribeDBClusters", region, |c| {
                rds.describe_db_clusters()
                    .db_cluster_identifier(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "DB cluster", id, region))?;
        let cluster = out.db_clusters().first().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::NotFound,
                format!("no DB cluster `{id}` in {region} (DescribeDBClusters listed none)"),
            )
        })?;
        let cluster_id = cluster.db_cluster_identifier().unwrap_or(id).to_string();
        obs.fact("kind", "cluster");
        obs.fact("engine", cluster.engine());
        obs.fact("status", cluster.status());
        obs.fact("replica_of", cluster_replica_of(cluster));
        obs.fact("backup.retention_days", cluster.backup_retention_period());
        restorable(
            obs,
            cluster.backup_retention_period(),
            cluster.latest_restorable_time(),
        );
        obs.fact("storage.encrypted", cluster.storage_encrypted());
        obs.fact(
            "storage.kms_key_id",
            cluster
                .kms_key_id()
                .filter(|_| cluster.storage_encrypted() == Some(true)),
        );
        obs.fact("multi_az", cluster.multi_az());
        obs.fact("deletion_protection", cluster.deletion_protection());

        // Exposure is each member instance's (Aurora), and Multi-AZ DB clusters also carry a
        // flag of their own: the cluster is exposed when either says so.
        let own_flag = cluster.publicly_accessible();
        tls::record(
            obs,
            &self.groups,
            session,
            calls,
            region,
            cluster.engine(),
            cluster.db_cluster_parameter_group(),
            true,
        )
        .await;
        let own_ca = cluster
            .certificate_details()
            .and_then(|c| c.ca_identifier())
            .map(str::to_string);
        if let Some(ca) = &own_ca {
            obs.fact("ca_certificate_identifier", ca.as_str());
        }
        let mut members = Vec::new();
        match self
            .instances(session, rds, calls, region, Some(&cluster_id))
            .await
        {
            Ok(instances) => {
                if own_ca.is_none() {
                    let mut cas: Vec<&str> = instances
                        .iter()
                        .filter_map(|db| db.ca_certificate_identifier())
                        .collect();
                    cas.sort();
                    cas.dedup();
                    match cas.as_slice() {
                        [one] => {
                            obs.fact("ca_certificate_identifier", *one);
                        }
                        [] => {
                            obs.unobserved(
                                "ca_certificate_identifier",
                                "neither the cluster nor a member names a CA",
                            );
                        }
                        many => {
                            obs.unobserved(
                                "ca_certificate_identifier",
                                format!("the members use different CAs: {}", many.join(", ")),
                            );
                        }
                    }
                }
                let mut any = own_flag == Some(true);
                for db in &instances {
                    any |= db.publicly_accessible() == Some(true);
                    members.push(json!({
                        "identifier": db.db_instance_identifier(),
                        "publicly_accessible": db.publicly_accessible(),
                        "availability_zone": db.availability_zone(),
                    }));
                }
                obs.fact("publicly_accessible", any);
            }
            // The cluster's own "yes" needs no members to be true; anything else does.
            Err(e) => {
                if own_flag == Some(true) {
                    obs.fact("publicly_accessible", true);
                } else {
                    obs.unobserved("publicly_accessible", e.to_string());
                }
                if own_ca.is_none() {
                    obs.unobserved("ca_certificate_identifier", e.to_string());
                }
            }
        }
        obs.evidence(
            "database",
            json!({
                "kind": "cluster",
                "identifier": cluster_id,
                "arn": cluster.db_cluster_arn(),
                "engine_version": cluster.engine_version(),
                "engine_mode": cluster.engine_mode(),
                "availability_zones": cluster.availability_zones(),
                "members": if members.is_empty() {
                    Value::Array(
                        cluster
                            .db_cluster_members()
                            .iter()
                            .map(|m| json!({
                                "identifier": m.db_instance_identifier(),
                                "writer": m.is_cluster_writer(),
                            }))
                            .collect(),
                    )
                } else {
                    Value::Array(members)
                },
            }),
        );
        Ok(())
    }
}

/// DB snapshots and DB cluster snapshots: discovery and observation, kept apart from the
/// databases' own functions.
impl RdsProbe {
    /// `snapshot:*` or `cluster-snapshot:*`: every snapshot of the kind the account owns in the
    /// scanned regions (manual and automated; others' shared and public snapshots are not
    /// listed unless asked for, and are not this account's data).
    async fn discover_snapshots(
        &self,
        pattern: &str,
        ctx: &ProbeContext,
    ) -> Result<Vec<String>, ProbeError> {
        let cluster = pattern == "cluster-snapshot:*";
        let session = self.aws.session(ctx).await?;
        let session = &session;
        session
            .per_region(ctx, |region| async move {
                let rds: Client = session.client(Some(&region));
                let rds = &rds;
                let calls = ApiCalls::default();
                let mut targets: Vec<String> = Vec::new();
                let name = |prefix: &str, id: &str, arn: Option<&str>| {
                    let target = format!("{prefix}{id}");
                    regional_target(session, &region, &target, || {
                        arn.map(str::to_string)
                            .unwrap_or_else(|| session.arn("rds", &region, &target))
                    })
                };
                if cluster {
                    walk_pages(
                        "rds:DescribeDBClusterSnapshots",
                        |marker| {
                            session.call(
                                &calls,
                                SERVICE,
                                "DescribeDBClusterSnapshots",
                                &region,
                                move |c| {
                                    rds.describe_db_cluster_snapshots()
                                        .max_records(self.page_size)
                                        .set_marker(marker.clone())
                                        .customize()
                                        .interceptor(c)
                                        .send()
                                },
                            )
                        },
                        |page| {
                            targets.extend(page.db_cluster_snapshots().iter().filter_map(|s| {
                                Some(name(
                                    CLUSTER_SNAPSHOT,
                                    s.db_cluster_snapshot_identifier()?,
                                    s.db_cluster_snapshot_arn(),
                                ))
                            }));
                            page.marker
                        },
                    )
                    .await?;
                } else {
                    walk_pages(
                        "rds:DescribeDBSnapshots",
                        |marker| {
                            session.call(
                                &calls,
                                SERVICE,
                                "DescribeDBSnapshots",
                                &region,
                                move |c| {
                                    rds.describe_db_snapshots()
                                        .max_records(self.page_size)
                                        .set_marker(marker.clone())
                                        .customize()
                                        .interceptor(c)
                                        .send()
                                },
                            )
                        },
                        |page| {
                            targets.extend(page.db_snapshots().iter().filter_map(|s| {
                                Some(name(
                                    SNAPSHOT,
                                    s.db_snapshot_identifier()?,
                                    s.db_snapshot_arn(),
                                ))
                            }));
                            page.marker
                        },
                    )
                    .await?;
                }
                targets.sort();
                targets.dedup();
                ctx.record_run_info(
                    &format!(
                        "aws.rds.discovery.{}.{region}",
                        if cluster {
                            "cluster_snapshots"
                        } else {
                            "snapshots"
                        }
                    ),
                    json!({"targets": targets.len(), "api_calls": calls.into_summaries()}),
                );
                Ok(targets)
            })
            .await
    }

    async fn observe_snapshot(
        &self,
        session: &Session,
        rds: &Client,
        calls: &ApiCalls,
        region: &str,
        id: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let out = session
            .call(calls, SERVICE, "DescribeDBSnapshots", region, |c| {
                rds.describe_db_snapshots()
                    .db_snapshot_identifier(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "DB snapshot", id, region))?;
        let snap = out.db_snapshots().first().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::NotFound,
                format!("no DB snapshot `{id}` in {region} (DescribeDBSnapshots listed none)"),
            )
        })?;
        obs.fact("kind", "snapshot");
        obs.fact("engine", snap.engine());
        obs.fact("status", snap.status());
        obs.fact("snapshot_type", snap.snapshot_type());
        snapshot_encryption(obs, snap.encrypted(), snap.kms_key_id());
        let attrs = session
            .call(
                calls,
                SERVICE,
                "DescribeDBSnapshotAttributes",
                region,
                |c| {
                    rds.describe_db_snapshot_attributes()
                        .db_snapshot_identifier(id)
                        .customize()
                        .interceptor(c)
                        .send()
                },
            )
            .await;
        match attrs {
            Ok(out) => restore_attribute(
                obs,
                out.db_snapshot_attributes_result()
                    .map(|r| r.db_snapshot_attributes())
                    .unwrap_or_default()
                    .iter()
                    .map(|a| (a.attribute_name(), a.attribute_values())),
            ),
            Err(e) => unobserved(obs, &SHARING, &e),
        }
        obs.evidence(
            "snapshot",
            json!({
                "kind": "snapshot",
                "identifier": snap.db_snapshot_identifier(),
                "arn": snap.db_snapshot_arn(),
                "instance": snap.db_instance_identifier(),
                "created": snap.snapshot_create_time().and_then(timestamp).map(|t| t.to_string()),
            }),
        );
        Ok(())
    }

    async fn observe_cluster_snapshot(
        &self,
        session: &Session,
        rds: &Client,
        calls: &ApiCalls,
        region: &str,
        id: &str,
        obs: &mut Observation,
    ) -> Result<(), ProbeError> {
        let out = session
            .call(calls, SERVICE, "DescribeDBClusterSnapshots", region, |c| {
                rds.describe_db_cluster_snapshots()
                    .db_cluster_snapshot_identifier(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "DB cluster snapshot", id, region))?;
        let snap = out.db_cluster_snapshots().first().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::NotFound,
                format!(
                    "no DB cluster snapshot `{id}` in {region} (DescribeDBClusterSnapshots listed none)"
                ),
            )
        })?;
        obs.fact("kind", "cluster-snapshot");
        obs.fact("engine", snap.engine());
        obs.fact("status", snap.status());
        obs.fact("snapshot_type", snap.snapshot_type());
        snapshot_encryption(obs, snap.storage_encrypted(), snap.kms_key_id());
        let attrs = session
            .call(
                calls,
                SERVICE,
                "DescribeDBClusterSnapshotAttributes",
                region,
                |c| {
                    rds.describe_db_cluster_snapshot_attributes()
                        .db_cluster_snapshot_identifier(id)
                        .customize()
                        .interceptor(c)
                        .send()
                },
            )
            .await;
        match attrs {
            Ok(out) => restore_attribute(
                obs,
                out.db_cluster_snapshot_attributes_result()
                    .map(|r| r.db_cluster_snapshot_attributes())
                    .unwrap_or_default()
                    .iter()
                    .map(|a| (a.attribute_name(), a.attribute_values())),
            ),
            Err(e) => unobserved(obs, &SHARING, &e),
        }
        obs.evidence(
            "snapshot",
            json!({
                "kind": "cluster-snapshot",
                "identifier": snap.db_cluster_snapshot_identifier(),
                "arn": snap.db_cluster_snapshot_arn(),
                "cluster": snap.db_cluster_identifier(),
                "created": snap.snapshot_create_time().and_then(timestamp).map(|t| t.to_string()),
            }),
        );
        Ok(())
    }
}

/// A snapshot's `encrypted` and `kms_key_id`; a description without the flag leaves both
/// unobserved, never guessed.
/// Every page of DescribeDBInstances, optionally only one cluster's members: the one lister of
/// DB instances (`aws.rds` discovery and `aws.backup`'s `coverage:*`).
pub(super) async fn describe_instances(
    session: &Session,
    rds: &Client,
    calls: &ApiCalls,
    region: &str,
    cluster: Option<&str>,
    page_size: i32,
) -> Result<Vec<DbInstance>, ProbeError> {
    let filter = cluster.map(|id| Filter::builder().name("db-cluster-id").values(id).build());
    let mut out = Vec::new();
    let filter = &filter;
    walk_pages(
        "rds:DescribeDBInstances",
        |marker| {
            session.call(calls, SERVICE, "DescribeDBInstances", region, move |c| {
                rds.describe_db_instances()
                    .set_filters(filter.clone().map(|f| vec![f]))
                    .max_records(page_size)
                    .set_marker(marker.clone())
                    .customize()
                    .interceptor(c)
                    .send()
            })
        },
        |page| {
            out.extend(page.db_instances().iter().cloned());
            page.marker
        },
    )
    .await?;
    Ok(out)
}

/// Every page of DescribeDBClusters: the one lister of DB clusters (`aws.rds` discovery and
/// `aws.backup`'s `coverage:*`).
pub(super) async fn describe_clusters(
    session: &Session,
    rds: &Client,
    calls: &ApiCalls,
    region: &str,
    page_size: i32,
) -> Result<Vec<DbCluster>, ProbeError> {
    let mut out = Vec::new();
    walk_pages(
        "rds:DescribeDBClusters",
        |marker| {
            session.call(calls, SERVICE, "DescribeDBClusters", region, move |c| {
                rds.describe_db_clusters()
                    .max_records(page_size)
                    .set_marker(marker.clone())
                    .customize()
                    .interceptor(c)
                    .send()
            })
        },
        |page| {
            out.extend(page.db_clusters().iter().cloned());
            page.marker
        },
    )
    .await?;
    Ok(out)
}

/// A read replica's source, as the `replica_of` fact reads it.
pub(super) fn instance_replica_of(db: &DbInstance) -> Option<&str> {
    db.read_replica_source_db_instance_identifier()
        .or(db.read_replica_source_db_cluster_identifier())
        .filter(|s| !s.is_empty())
}

/// A replica cluster's source, as the `replica_of` fact reads it.
pub(super) fn cluster_replica_of(cluster: &DbCluster) -> Option<&str> {
    cluster
        .replication_source_identifier()
        .filter(|s| !s.is_empty())
}

/// Whether the DB instance or cluster an RDS ARN (`…:db:ID`, `…:cluster:ID`) names is a read
/// replica, and of what; `None` when the ARN names neither. One DescribeDBInstances or
/// DescribeDBClusters call in the ARN's region.
pub(super) async fn replica_of_arn(
    session: &Session,
    calls: &ApiCalls,
    arn: &str,
) -> Option<Result<Option<String>, ProbeError>> {
    let parsed = Arn::parse(arn).filter(|a| a.service == "rds")?;
    let region = parsed.region().unwrap_or(session.region()).to_string();
    let rds: Client = session.client(Some(&region));
    if let Some(id) = parsed.resource.strip_prefix("db:") {
        let out = session
            .call(calls, SERVICE, "DescribeDBInstances", &region, |c| {
                rds.describe_db_instances()
                    .db_instance_identifier(id)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await
            .map_err(|e| not_found(e, "DB instance", id, &region));
        return Some(out.map(|o| {
            o.db_instances()
                .first()
                .and_then(instance_replica_of)
                .map(str::to_string)
        }));
    }
    let id = parsed.resource.strip_prefix(CLUSTER)?;
    let out = session
        .call(calls, SERVICE, "DescribeDBClusters", &region, |c| {
            rds.describe_db_clusters()
                .db_cluster_identifier(id)
                .customize()
                .interceptor(c)
                .send()
        })
        .await
        .map_err(|e| not_found(e, "DB cluster", id, &region));
    Some(out.map(|o| {
        o.db_clusters()
            .first()
            .and_then(cluster_replica_of)
            .map(str::to_string)
    }))
}

fn snapshot_encryption(obs: &mut Observation, encrypted: Option<bool>, key: Option<&str>) {
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
                obs.unobserved(f, "the snapshot's description gave no encryption flag");
            }
        }
    }
}

/// `public` and `shared_with` from a snapshot's attributes: the `restore` attribute lists the
/// accounts that may restore it, `all` meaning every AWS account.
fn restore_attribute<'a>(
    obs: &mut Observation,
    attributes: impl Iterator<Item = (Option<&'a str>, &'a [String])>,
) {
    let mut public = false;
    let mut accounts: Vec<&str> = Vec::new();
    for (name, values) in attributes {
        if name != Some("restore") {
            continue;
        }
        for v in values {
            if v == "all" {
                public = true;
            } else {
                accounts.push(v);
            }
        }
    }
    accounts.sort_unstable();
    accounts.dedup();
    obs.fact("public", public);
    obs.fact("shared_with", json!(accounts));
}

/// Records the restorable time and its lag. Nothing restorable is an observed absence, and so
/// is a restorable time reported while automated backups are off (retention 0): point-in-time
/// restore needs automated backups, whatever else the API says (the raw value stays in the
/// evidence).
fn restorable(
    obs: &mut Observation,
    retention_days: Option<i32>,
    latest: Option<&aws_smithy_types::DateTime>,
) {
    let latest = latest.filter(|_| retention_days != Some(0));
    match latest.and_then(timestamp) {
        Some(t) => {
            obs.fact("pitr.latest_restorable_time", t.to_string());
            obs.fact("pitr.lag", lag(t));
        }
        None => {
            obs.fact("pitr.latest_restorable_time", Value::Null);
            obs.fact("pitr.lag", Value::Null);
        }
    }
}

fn not_found(mut e: ProbeError, what: &str, id: &str, region: &str) -> ProbeError {
    if e.kind == ProbeErrorKind::NotFound {
        e.message = format!("no {what} `{id}` in {region} ({})", e.message);
        if what == "DB instance" {
            e.hint = Some(
                "check the name and region; an Aurora or Multi-AZ DB cluster is named `cluster:NAME`"
                    .into(),
            );
        }
    }
    e
}

#[async_trait]
impl Probe for RdsProbe {
    fn kind(&self) -> &'static str {
        "aws.rds"
    }
    fn description(&self) -> &'static str {
        "an RDS DB instance's or cluster's backups, point-in-time recovery lag, encryption, Multi-AZ and exposure"
    }
    fn target_syntax(&self) -> &'static str {
        "a DB instance identifier or ARN, `cluster:NAME` or a cluster ARN, or `*` for every cluster and non-member instance; `snapshot:ID`, `cluster-snapshot:ID` (or their ARNs), `snapshot:*`, `cluster-snapshot:*`"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if self.is_pattern(target) || parse_target(target).is_some() {
            Ok(())
        } else {
            Err(
                "a DB instance identifier (prod-db), `cluster:NAME`, an RDS ARN \
                 (arn:aws:rds:REGION:ACCOUNT:db:NAME or …:cluster:NAME), or `*`; \
                 snapshots: `snapshot:ID`, `cluster-snapshot:ID`, their ARNs, \
                 `snapshot:*` or `cluster-snapshot:*`"
                    .into(),
            )
        }
    }
    fn host_key(&self, _target: &str) -> String {
        "aws:rds".into()
    }
    fn is_pattern(&self, target: &str) -> bool {
        matches!(target, "*" | "snapshot:*" | "cluster-snapshot:*")
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern == "snapshot:*" || pattern == "cluster-snapshot:*" {
            return self.discover_snapshots(pattern, ctx).await;
        }
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let session = &session;
        session
            .per_region(ctx, |region| async move {
                let rds: Client = session.client(Some(&region));
                let calls = ApiCalls::default();
                let mut targets = self.clusters(session, &rds, &calls, &region).await?;
                let instances = self.instances(session, &rds, &calls, &region, None).await?;
                targets.extend(
                    instances
                        .iter()
                        .filter(|db| db.db_cluster_identifier().is_none())
                        .filter_map(|db| {
                            let id = db.db_instance_identifier()?;
                            Some(regional_target(session, &region, id, || {
                                db.db_instance_arn().map(str::to_string).unwrap_or_else(|| {
                                    session.arn("rds", &region, &format!("db:{id}"))
                                })
                            }))
                        }),
                );
                targets.sort();
                targets.dedup();
                // Where the population came from, for the report's run section; members are named
                // so a reader sees they were examined through their cluster, not dropped.
                let members: Vec<&str> = instances
                    .iter()
                    .filter(|db| db.db_cluster_identifier().is_some())
                    .filter_map(|db| db.db_instance_identifier())
                    .collect();
                ctx.record_run_info(
                    &format!("aws.rds.discovery.{region}"),
                    json!({
                        "targets": targets.len(),
                        "cluster_members_examined_through_their_cluster": members,
                        "api_calls": calls.into_summaries(),
                    }),
                );
                Ok(targets)
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
            ProbeError::new(
                ProbeErrorKind::InvalidTarget,
                self.check_target(target)
                    .err()
                    .unwrap_or_else(|| super::common::PATTERN.to_string()),
            )
        })?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let (Target::Instance { region, .. }
        | Target::Cluster { region, .. }
        | Target::Snapshot { region, .. }
        | Target::ClusterSnapshot { region, .. }) = &parsed;
        let region = region.unwrap_or(session.region()).to_string();
        let rds: Client = session.client(Some(&region));
        let calls = ApiCalls::default();
        let mut obs = Observation::new(self.kind(), target);
        match parsed {
            Target::Instance { id, .. } => {
                self.observe_instance(&session, &rds, &calls, &region, id, &mut obs)
                    .await?
            }
            Target::Cluster { id, .. } => {
                self.observe_cluster(&session, &rds, &calls, &region, id, &mut obs)
                    .await?
            }
            Target::Snapshot { id, .. } => {
                self.observe_snapshot(&session, &rds, &calls, &region, id, &mut obs)
                    .await?
            }
            Target::ClusterSnapshot { id, .. } => {
                self.observe_cluster_snapshot(&session, &rds, &calls, &region, id, &mut obs)
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
        let snapshots = !observations.is_empty()
            && observations.iter().all(|o| {
                matches!(
                    o.facts.get("kind").and_then(Value::as_str),
                    Some("snapshot" | "cluster-snapshot")
                )
            });
        Some(if snapshots {
            render_table(observations, "snapshot", SNAPSHOT_COLUMNS)
        } else {
            render_table(observations, "database", COLUMNS)
        })
    }
}

/// The spot-check table's columns for snapshots.
const SNAPSHOT_COLUMNS: &[Col] = &[
    col("kind", "kind"),
    col("type", "snapshot_type"),
    col("engine", "engine"),
    col("encrypted", "encrypted"),
    col("KMS key", "kms_key_id"),
    col("public", "public"),
    col("shared with", "shared_with"),
];

/// The spot-check table's columns.
const COLUMNS: &[Col] = &[
    col("kind", "kind"),
    col("engine", "engine"),
    col("retention (d)", "backup.retention_days"),
    col("PITR lag", "pitr.lag"),
    col("encrypted", "storage.encrypted"),
    col("multi-AZ", "multi_az"),
    col("public", "publicly_accessible"),
    col("del. protect", "deletion_protection"),
    col("TLS required", "tls.required"),
    col("min TLS", "tls.minimum_protocol"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_instances_or_clusters() {
        assert_eq!(
            parse_target("prod-db"),
            Some(Target::Instance {
                id: "prod-db",
                region: None
            })
        );
        assert_eq!(
            parse_target("cluster:aurora-prod"),
            Some(Target::Cluster {
                id: "aurora-prod",
                region: None
            })
        );
        let arn = "arn:aws:rds:us-west-2:111122223333:cluster:aurora-prod";
        assert_eq!(
            parse_target(arn),
            Some(Target::Cluster {
                id: arn,
                region: Some("us-west-2")
            })
        );
        let arn = "arn:aws:rds:eu-west-1:111122223333:db:prod-db";
        assert_eq!(
            parse_target(arn),
            Some(Target::Instance {
                id: arn,
                region: Some("eu-west-1")
            })
        );
        for bad in [
            "",
            "*",
            "cluster:",
            "prod*",
            "snapshot:",
            "snapshot:*",
            "arn:aws:rds:eu-west-1:1:option-group:x",
            "arn:aws:s3:::bucket",
            "a b",
        ] {
            assert_eq!(parse_target(bad), None, "{bad}");
        }
        assert_eq!(
            parse_target("snapshot:rds:prod-db-2026-01-01-00-00"),
            Some(Target::Snapshot {
                id: "rds:prod-db-2026-01-01-00-00",
                region: None
            })
        );
        assert_eq!(
            parse_target("arn:aws:rds:us-west-2:111122223333:cluster-snapshot:nightly"),
            Some(Target::ClusterSnapshot {
                id: "nightly",
                region: Some("us-west-2")
            })
        );
        let p = RdsProbe::new(Aws::new());
        assert!(p.check_target("*").is_ok());
        assert!(p.check_target("snapshot:*").is_ok());
        assert!(p.check_target("cluster-snapshot:*").is_ok());
        assert!(p.check_target("snapshot:x").is_ok());
        assert!(p.check_target("snapshots:*").is_err());
    }
}
